using Microsoft.Extensions.Logging;

namespace Eas.Node.Agent.Network;

/// <summary>Network (CNI, netns) log messages (event ids 400-499).</summary>
internal static partial class NetworkLog
{
    [LoggerMessage(400, LogLevel.Warning, "CNI DEL for {ContainerId} failed: {Problem}")]
    public static partial void DeleteFailed(ILogger logger, string containerId, string problem);
}
