namespace Eas.Node.Gateway.Routing;

/// <summary>One Ready instance of a service and the number of requests the gateway has in flight to it.</summary>
internal sealed class EndpointState(string instanceId, string address, string node)
{
    private int _outstanding;

    public string InstanceId { get; } = instanceId;

    /// <summary>host:port, as the coordinator reported it.</summary>
    public string Address { get; } = address;

    public string Node { get; } = node;

    /// <summary>"http://host:port", the prefix of every forwarded URL.</summary>
    public string DestinationPrefix { get; } = "http://" + address;

    public int Outstanding => Volatile.Read(ref _outstanding);

    public void Enter() => Interlocked.Increment(ref _outstanding);

    public void Exit() => Interlocked.Decrement(ref _outstanding);
}
