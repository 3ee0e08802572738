using Eas.Node.Contracts.V1;
using Eas.Node.Gateway.Metrics;
using Yarp.ReverseProxy.Forwarder;

namespace Eas.Node.Gateway.Routing;

/// <summary>
/// A service in the routing table: its token, request timeout, Ready endpoints, group membership, limits and routing
/// policy. Immutable except for the caches noted; a new table builds new entries.
/// </summary>
internal sealed class ServiceEntry
{
    /// <summary>EAS's default metadata.rpc.max_queue_size: requests in flight per instance before 450.</summary>
    public const int DefaultMaxQueueSize = 64;

    /// <summary>Idle time allowed on an upgraded (WebSocket) connection: EAS's client-to-gateway idle timeout.</summary>
    public static readonly TimeSpan UpgradeIdleTimeout = TimeSpan.FromSeconds(600);

    private int _next;

    public ServiceEntry(string name, byte[] tokenSha256, TimeSpan keepalive, EndpointState[] endpoints, bool grpc = false)
    {
        Name = name;
        TokenSha256 = tokenSha256;
        Tokens = TokenSet.For(tokenSha256);
        Keepalive = keepalive;
        Endpoints = endpoints;
        Grpc = grpc;
        RequestConfig = new ForwarderRequestConfig
        {
            // The gateway's own deadline (Keepalive) bounds the time to the response headers; YARP's activity timeout
            // bounds every idle gap after that (between chunks of a stream), so a long stream that keeps moving lives.
            ActivityTimeout = keepalive,
            // gRPC instances speak HTTP/2 in cleartext (prior knowledge): exactly 2.0, no fallback, no upgrade dance.
            Version = grpc ? System.Net.HttpVersion.Version20 : System.Net.HttpVersion.Version11,
            VersionPolicy = grpc ? HttpVersionPolicy.RequestVersionExact : HttpVersionPolicy.RequestVersionOrLower,
        };
        UpgradeRequestConfig = RequestConfig with { ActivityTimeout = keepalive > UpgradeIdleTimeout ? keepalive : UpgradeIdleTimeout };
    }

    public string Name { get; }

    /// <summary>SHA-256 of the service token; empty means the service takes requests without a token.</summary>
    public byte[] TokenSha256 { get; }

    /// <summary>What <see cref="Proxy.TokenCheck"/> compares with (<see cref="TokenSha256"/> and the last accepted token).</summary>
    public TokenSet Tokens { get; }

    public TimeSpan Keepalive { get; }

    public EndpointState[] Endpoints { get; }

    /// <summary>metadata.enable_grpc: HTTP/2 cleartext to the instances.</summary>
    public bool Grpc { get; }

    public ForwarderRequestConfig RequestConfig { get; }

    /// <summary>For upgraded requests (WebSocket): idle gaps up to <see cref="UpgradeIdleTimeout"/> instead of rpc.keepalive.</summary>
    public ForwarderRequestConfig UpgradeRequestConfig { get; }

    /// <summary>metadata.group; null when the service is in no group.</summary>
    public string? Group { get; init; }

    /// <summary>Weight 0-1000 in its group's customized traffic mode.</summary>
    public int GroupWeight { get; init; }

    /// <summary>traffic_state standalone: takes no group traffic.</summary>
    public bool Standalone { get; init; }

    /// <summary>How a replica is picked (metadata.routing).</summary>
    public RoutingPolicy Routing { get; init; }

    /// <summary>metadata.type (Standard, LLMGatewayService).</summary>
    public string Type { get; init; } = "";

    /// <summary>metadata.rpc.max_queue_size: requests in flight per instance; an instance this busy is not picked.</summary>
    public int MaxQueueSize { get; init; } = DefaultMaxQueueSize;

    /// <summary>metadata.rpc.rate_limit per instance (requests per second), 0 = none; each endpoint has its limiter.</summary>
    public int InstanceRateLimit { get; init; }

    /// <summary>networking.gateway_policy.concurrency_limit, 0 = none.</summary>
    public int ConcurrencyLimit { get; init; }

    /// <summary>Call records (EAS sinker); null when the service keeps none.</summary>
    public Records.SinkerSettings? Sinker { get; init; }

    /// <summary>In-flight count and service rate limiter, carried over from the previous table.</summary>
    public ServiceShared Shared { get; init; } = new();

    /// <summary>The service's metric children, looked up on its first request (a new table starts without them).</summary>
    public GatewayMetrics.ServiceMetrics? Metrics { get; set; }

    /// <summary>Picks an endpoint by the service's own <see cref="Routing"/> policy.</summary>
    public EndpointState? Pick(EndpointState? exclude = null) => Pick(Routing, exclude);

    /// <summary>
    /// Picks an endpoint by <paramref name="policy"/>, skipping <paramref name="exclude"/> and instances that already have
    /// <see cref="MaxQueueSize"/> requests in flight; null when none is left. <see cref="RoutingPolicy.Llm"/> picks
    /// least-requests here: the LLM router (Llm/) is consulted by the handler before this and falls back to it.
    /// </summary>
    public EndpointState? Pick(RoutingPolicy policy, EndpointState? exclude = null) =>
        policy == RoutingPolicy.RoundRobin ? PickRoundRobin(exclude) : PickLeastRequests(exclude);

    /// <summary>
    /// The endpoint with the fewest requests in flight. The scan starts at a rotating offset, so endpoints that tie
    /// take turns (round-robin).
    /// </summary>
    public EndpointState? PickLeastRequests(EndpointState? exclude = null)
    {
        var endpoints = Endpoints;
        var count = endpoints.Length;
        var max = MaxQueueSize;
        if (count == 1)
        {
            var only = endpoints[0];
            return ReferenceEquals(only, exclude) || only.Outstanding >= max ? null : only;
        }

        if (count == 0)
        {
            return null;
        }

        var start = (int)((uint)Interlocked.Increment(ref _next) % (uint)count);
        EndpointState? best = null;
        var bestLoad = max;
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

    /// <summary>The next endpoint in turn that is not full.</summary>
    public EndpointState? PickRoundRobin(EndpointState? exclude = null)
    {
        var endpoints = Endpoints;
        var count = endpoints.Length;
        if (count == 0)
        {
            return null;
        }

        var max = MaxQueueSize;
        var start = (int)((uint)Interlocked.Increment(ref _next) % (uint)count);
        for (var i = 0; i < count; i++)
        {
            var index = start + i;
            if (index >= count)
            {
                index -= count;
            }

            var candidate = endpoints[index];
            if (!ReferenceEquals(candidate, exclude) && candidate.Outstanding < max)
            {
                return candidate;
            }
        }

        return null;
    }
}
