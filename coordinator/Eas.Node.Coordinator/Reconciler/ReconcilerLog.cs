namespace Eas.Node.Coordinator.Reconciler;

internal static partial class ReconcilerLog
{
    [LoggerMessage(3000, LogLevel.Information, "Service {Service}: created instance {Instance} (version {Version})")]
    public static partial void Created(ILogger logger, string service, string instance, int version);

    [LoggerMessage(3001, LogLevel.Information, "Service {Service}: instance {Instance} scheduled on node {Node}")]
    public static partial void Scheduled(ILogger logger, string service, string instance, string node);

    [LoggerMessage(3002, LogLevel.Warning, "Service {Service}: instance {Instance} cannot be scheduled: {Reason}")]
    public static partial void Unschedulable(ILogger logger, string service, string instance, string reason);

    [LoggerMessage(3003, LogLevel.Information, "Service {Service}: removing instance {Instance}")]
    public static partial void Removing(ILogger logger, string service, string instance);

    [LoggerMessage(3004, LogLevel.Information, "Service {Service}: deleted")]
    public static partial void Deleted(ILogger logger, string service);

    [LoggerMessage(3005, LogLevel.Debug, "Reconcile conflict on {Key}; another pass follows")]
    public static partial void Conflict(ILogger logger, string key);

    [LoggerMessage(3006, LogLevel.Error, "Reconcile pass failed; retrying on the next signal")]
    public static partial void PassFailed(ILogger logger, Exception exception);

    [LoggerMessage(3007, LogLevel.Warning, "Service {Service}: moving {Instance}: {Reason}")]
    public static partial void Moving(ILogger logger, string service, string instance, string reason);

    [LoggerMessage(3008, LogLevel.Warning, "Service {Service}: rollout to version {Version} paused: {Reason}")]
    public static partial void RolloutPaused(ILogger logger, string service, int version, string reason);
}
