using Microsoft.Extensions.Logging;

namespace Eas.Node.Agent.Instances;

/// <summary>Instance lifecycle log messages (event ids 200-299).</summary>
internal static partial class InstanceLog
{
    [LoggerMessage(200, LogLevel.Information, "Instance {InstanceId} ({Service}) is {State}{Reason}")]
    public static partial void StateChanged(ILogger logger, string instanceId, string service, string state, string reason);

    [LoggerMessage(201, LogLevel.Warning, "Instance {InstanceId} failed: {Reason}")]
    public static partial void Failed(ILogger logger, string instanceId, string reason);

    [LoggerMessage(202, LogLevel.Warning, "Instance {InstanceId} {Exit}; restarting in {Delay}")]
    public static partial void Exited(ILogger logger, string instanceId, string exit, TimeSpan delay);

    [LoggerMessage(203, LogLevel.Warning, "Stop step {Hook} of {InstanceId} failed: {Problem}")]
    public static partial void StopHookFailed(ILogger logger, string instanceId, string hook, string problem);

    [LoggerMessage(204, LogLevel.Information, "Re-attached to running instance {InstanceId}")]
    public static partial void Reattached(ILogger logger, string instanceId);

    [LoggerMessage(205, LogLevel.Information, "Instance {InstanceId} was left half made ({Phase}); cleaning it up")]
    public static partial void CleaningHalfMade(ILogger logger, string instanceId, string phase);

    [LoggerMessage(206, LogLevel.Information, "Ignoring desired instances with (epoch {Epoch}, generation {Generation}): already applied ({AppliedEpoch}, {AppliedGeneration})")]
    public static partial void StaleDesired(ILogger logger, long epoch, long generation, long appliedEpoch, long appliedGeneration);

    [LoggerMessage(207, LogLevel.Information, "Applying desired instances (epoch {Epoch}, generation {Generation}): {Count} instances")]
    public static partial void ApplyingDesired(ILogger logger, long epoch, long generation, int count);

    [LoggerMessage(208, LogLevel.Error, "Instance {InstanceId} runner crashed")]
    public static partial void RunnerCrashed(ILogger logger, string instanceId, Exception exception);

    [LoggerMessage(209, LogLevel.Warning, "Instance {InstanceId} is on disk but no runner owns it; stopping and removing what is left of it")]
    public static partial void FinishingLeftover(ILogger logger, string instanceId);
}
