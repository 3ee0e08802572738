using Eas.Node.Coordinator.Reconciler;

namespace Eas.Node.Coordinator.Nodes;

/// <summary>Once a second (on the injected clock), marks nodes Down that have been silent past the grace period.</summary>
public sealed class NodeLivenessMonitor(NodeHub hub, ReconcileTrigger trigger, TimeProvider time, ILogger<NodeLivenessMonitor> logger) : BackgroundService
{
    private static readonly TimeSpan _period = TimeSpan.FromSeconds(1);

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var startedAt = time.GetUtcNow();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_period, time, stoppingToken);
                if (await hub.MarkSilentNodesDownAsync(startedAt, stoppingToken) > 0)
                {
                    trigger.Signal();
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                NodeHubLog.LivenessFailed(logger, ex);
            }
        }
    }
}
