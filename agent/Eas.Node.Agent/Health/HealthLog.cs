using Microsoft.Extensions.Logging;

namespace Eas.Node.Agent.Health;

/// <summary>Health check log messages (event ids 900-919).</summary>
internal static partial class HealthLog
{
    [LoggerMessage(900, LogLevel.Information, "Instance {InstanceId} passed its startup check")]
    public static partial void StartupPassed(ILogger logger, string instanceId);

    [LoggerMessage(901, LogLevel.Warning, "Instance {InstanceId} is unhealthy: {Reason}; restarting it")]
    public static partial void Unhealthy(ILogger logger, string instanceId, string reason);

    [LoggerMessage(902, LogLevel.Warning, "The {Probe} check of {InstanceId} ({Kind}) cannot run: the instance has no usable address ({Ip}); skipped")]
    public static partial void ProbeUnusable(ILogger logger, string instanceId, string probe, string kind, string ip);

    [LoggerMessage(903, LogLevel.Error, "The health checks of {InstanceId} stopped on an agent error")]
    public static partial void ProbesCrashed(ILogger logger, string instanceId, Exception exception);
}
