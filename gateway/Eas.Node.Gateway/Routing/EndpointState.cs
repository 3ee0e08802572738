using Eas.Node.Gateway.Metrics;

namespace Eas.Node.Gateway.Routing;

/// <summary>
/// One Ready instance of a service and the number of requests the gateway has in flight to it. The same object is
/// carried from table to table while the instance stays Ready, so its counter and rate limiter survive updates.
/// </summary>
internal sealed class EndpointState(string instanceId, string address, string node)
{
    private int _outstanding;

    public string InstanceId { get; } = instanceId;

    /// <summary>host:port, as the coordinator reported it.</summary>
    public string Address { get; } = address;

    public string Node { get; } = node;

    /// <summary>"http://host:port", the prefix of every forwarded URL.</summary>
    public string DestinationPrefix { get; } = "http://" + address;

    /// <summary>Requests in flight to this instance (its queue in EAS terms).</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    /// <summary>metadata.rpc.rate_limit of the service, per instance; null when the service sets none.</summary>
    public RateLimiter? RateLimiter { get; set; }

    /// <summary>The instance's metric children, looked up on its first request.</summary>
    public GatewayMetrics.InstanceMetrics? Metrics { get; set; }

    public void Enter() => Interlocked.Increment(ref _outstanding);

    /// <summary>Enters unless <paramref name="max"/> requests are already in flight; exact under concurrency.</summary>
    public bool TryEnter(int max)
    {
        while (true)
        {
            var current = Volatile.Read(ref _outstanding);
            if (current >= max)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _outstanding, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    public void Exit() => Interlocked.Decrement(ref _outstanding);
}
