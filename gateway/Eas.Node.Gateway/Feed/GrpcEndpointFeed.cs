using System.Runtime.CompilerServices;
using Eas.Node.Contracts.V1;
using Grpc.Core;
using Grpc.Net.Client;

namespace Eas.Node.Gateway.Feed;

/// <summary>Watches the coordinator's <c>eas.v1.Endpoints/Watch</c> server stream.</summary>
internal sealed class GrpcEndpointFeed : IEndpointFeed, IDisposable
{
    private readonly GrpcChannel _channel;
    private readonly Endpoints.EndpointsClient _client;
    private readonly string _gatewayName;

    public GrpcEndpointFeed(Uri coordinator, string gatewayName)
    {
        _gatewayName = gatewayName;
        _channel = GrpcChannel.ForAddress(coordinator, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                // The stream is idle between changes; pings find a dead coordinator so the gateway reconnects.
                KeepAlivePingDelay = TimeSpan.FromSeconds(15),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
                KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                ConnectTimeout = TimeSpan.FromSeconds(5),
            },
        });
        _client = new Endpoints.EndpointsClient(_channel);
    }

    public string Target => _channel.Target;

    public async IAsyncEnumerable<EndpointSnapshot> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var call = _client.Watch(new WatchEndpointsRequest { Gateway = _gatewayName }, cancellationToken: cancellationToken);
        await foreach (var snapshot in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            yield return snapshot;
        }
    }

    public void Dispose() => _channel.Dispose();
}
