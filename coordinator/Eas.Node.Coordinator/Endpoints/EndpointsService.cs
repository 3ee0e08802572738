using Eas.Node.Contracts.V1;
using Grpc.Core;

namespace Eas.Node.Coordinator.Endpoints;

/// <summary>eas.v1.Endpoints: streams <see cref="EndpointFeed"/> snapshots to a gateway.</summary>
public sealed class EndpointsService(EndpointFeed feed, IHostApplicationLifetime lifetime, ILogger<EndpointsService> logger) : Contracts.V1.Endpoints.EndpointsBase
{
    /// <inheritdoc />
    public override async Task Watch(WatchEndpointsRequest request, IServerStreamWriter<EndpointSnapshot> responseStream, ServerCallContext context)
    {
        var gateway = string.IsNullOrEmpty(request.Gateway) ? context.Peer : request.Gateway;
        EndpointFeedLog.Watching(logger, gateway);

        // The stream ends when the coordinator stops, so shutdown does not wait for gateways to hang up.
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        try
        {
            await foreach (var snapshot in feed.WatchAsync(linked.Token))
            {
                await responseStream.WriteAsync(snapshot, linked.Token);
            }
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            // The gateway went away or the coordinator is stopping.
        }
        finally
        {
            EndpointFeedLog.Stopped(logger, gateway);
        }
    }
}
