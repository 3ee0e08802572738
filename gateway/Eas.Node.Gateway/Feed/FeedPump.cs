using Eas.Node.Gateway.Logging;
using Eas.Node.Gateway.Routing;

namespace Eas.Node.Gateway.Feed;

/// <summary>
/// Keeps the routing table in step with an <see cref="IEndpointFeed"/>: every snapshot replaces the table; when the
/// feed fails or ends it is watched again after a capped exponential backoff, and the last table keeps serving.
/// </summary>
internal sealed class FeedPump(IEndpointFeed feed, RouteStore routes, TimeProvider timeProvider, ILogger<FeedPump> logger) : BackgroundService
{
    internal static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(200);
    internal static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = InitialBackoff;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var snapshot in feed.WatchAsync(stoppingToken))
                {
                    var table = routes.Apply(snapshot);
                    GatewayLog.SnapshotApplied(logger, table.Revision, table.ServiceCount, table.EndpointCount);
                    backoff = InitialBackoff;
                }

                GatewayLog.FeedEnded(logger, backoff);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                GatewayLog.FeedFailed(logger, backoff, routes.Current.Revision, ex);
            }

            try
            {
                await Task.Delay(backoff, timeProvider, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
    }
}
