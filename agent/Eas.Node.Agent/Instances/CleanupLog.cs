using Microsoft.Extensions.Logging;

namespace Eas.Node.Agent.Instances;

/// <summary>Cleanup subcommand log messages (event ids 700-799).</summary>
internal static partial class CleanupLog
{
    [LoggerMessage(700, LogLevel.Information, "Removed instance {InstanceId}")]
    public static partial void Removed(ILogger logger, string instanceId);

    [LoggerMessage(701, LogLevel.Information, "Cleanup done: {Count} instances removed, bridge {Bridge} and CNI allocations removed")]
    public static partial void Done(ILogger logger, int count, string bridge);
}
