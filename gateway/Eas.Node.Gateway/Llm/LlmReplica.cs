namespace Eas.Node.Gateway.Llm;

/// <summary>
/// One replica (instance) an LLM service can route to, identified by its instance id and <c>host:port</c> address.
/// Two replicas are the same when both match (a restarted instance on a new port is a new replica). <see cref="Tag"/>
/// carries the caller's own object for the replica (the gateway's endpoint) and takes no part in equality; a lease
/// returns the replica object from the latest list passed for its service, so its tag is current.
/// </summary>
public sealed class LlmReplica : IEquatable<LlmReplica>
{
    public LlmReplica(string instanceId, string address, object? tag = null)
    {
        ArgumentNullException.ThrowIfNull(instanceId);
        ArgumentException.ThrowIfNullOrEmpty(address);
        InstanceId = instanceId;
        Address = address;
        Tag = tag;
    }

    public string InstanceId { get; }

    /// <summary>host:port of the engine; its metrics are scraped from <c>http://{Address}{MetricsPath}</c>.</summary>
    public string Address { get; }

    /// <summary>The caller's object for this replica (not part of equality).</summary>
    public object? Tag { get; }

    public bool Equals(LlmReplica? other) =>
        other is not null && string.Equals(InstanceId, other.InstanceId, StringComparison.Ordinal) && string.Equals(Address, other.Address, StringComparison.Ordinal);

    public override bool Equals(object? obj) => Equals(obj as LlmReplica);

    public override int GetHashCode() => HashCode.Combine(StringComparer.Ordinal.GetHashCode(InstanceId), StringComparer.Ordinal.GetHashCode(Address));

    public override string ToString() => $"{InstanceId}@{Address}";
}
