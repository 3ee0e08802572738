using Eas.Node.Gateway.Metrics;
using Yarp.ReverseProxy.Forwarder;

namespace Eas.Node.Gateway.Routing;

/// <summary>A service in the routing table: its token hash, request timeout and Ready endpoints.</summary>
internal sealed class ServiceEntry
{
    private int _next;

    public ServiceEntry(string name, byte[] tokenSha256, TimeSpan keepalive, EndpointState[] endpoints)
    {
        Name = name;
        TokenSha256 = tokenSha256;
        Keepalive = keepalive;
        Endpoints = endpoints;
        RequestConfig = new ForwarderRequestConfig
        {
            // The gateway's own deadline (Keepalive) bounds the whole exchange; YARP's activity timeout only has to
            // catch a response body that stalls after the headers came back.
            ActivityTimeout = keepalive,
            Version = System.Net.HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
    }

    public string Name { get; }

    /// <summary>SHA-256 of the service token; empty means the service takes requests without a token.</summary>
    public byte[] TokenSha256 { get; }

    public TimeSpan Keepalive { get; }

    public EndpointState[] Endpoints { get; }

    public ForwarderRequestConfig RequestConfig { get; }

    /// <summary>
    /// The last token that matched <see cref="TokenSha256"/>: callers repeat the same token, and a constant-time
    /// comparison with it spares hashing on every request. A new table (new token) starts without one.
    /// </summary>
    public string? AcceptedToken { get; set; }

    /// <summary>The service's metric children, looked up on its first request (a new table starts without them).</summary>
    public GatewayMetrics.ServiceMetrics? Metrics { get; set; }

    /// <summary>
    /// Picks the endpoint with the fewest requests in flight, skipping <paramref name="exclude"/>. The scan starts at a
    /// rotating offset, so endpoints that tie take turns (round-robin).
    /// </summary>
    public EndpointState? Pick(EndpointState? exclude = null)
    {
        var endpoints = Endpoints;
        var count = endpoints.Length;
        if (count == 1)
        {
            var only = endpoints[0];
            return ReferenceEquals(only, exclude) ? null : only;
        }

        if (count == 0)
        {
            return null;
        }

        var start = (int)((uint)Interlocked.Increment(ref _next) % (uint)count);
        EndpointState? best = null;
        var bestLoad = int.MaxValue;
        for (var i = 0; i < count; i++)
        {
            var index = start + i;
            if (index >= count)
            {
                index -= count;
            }

            var candidate = endpoints[index];
            if (ReferenceEquals(candidate, exclude))
            {
                continue;
            }

            var load = candidate.Outstanding;
            if (load < bestLoad)
            {
                best = candidate;
                bestLoad = load;
            }
        }

        return best;
    }
}
