using Microsoft.Extensions.Logging;

namespace Eas.Node.Agent.Coordinator;

/// <summary>Coordinator stream log messages (event ids 100-199).</summary>
internal static partial class CoordinatorLog
{
    [LoggerMessage(100, LogLevel.Information, "Registered with coordinator {Coordinator} as {NodeName} ({Count} instances running)")]
    public static partial void Connected(ILogger logger, string coordinator, string nodeName, int count);

    [LoggerMessage(101, LogLevel.Warning, "Lost coordinator {Coordinator}: {Code} {Detail}")]
    public static partial void Disconnected(ILogger logger, string coordinator, string code, string detail);

    [LoggerMessage(102, LogLevel.Information, "Reconnecting to the coordinator in {Delay}")]
    public static partial void Reconnecting(ILogger logger, TimeSpan delay);

    [LoggerMessage(103, LogLevel.Warning, "Coordinator {Coordinator} closed the stream")]
    public static partial void StreamClosed(ILogger logger, string coordinator);
}
