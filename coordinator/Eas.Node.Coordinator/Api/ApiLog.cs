namespace Eas.Node.Coordinator.Api;

internal static partial class ApiLog
{
    [LoggerMessage(1000, LogLevel.Information, "Service {Service} created (version {Version}, {Replicas} instances)")]
    public static partial void Created(ILogger logger, string service, int version, int replicas);

    [LoggerMessage(1001, LogLevel.Information, "Service {Service} modified to version {Version}")]
    public static partial void Modified(ILogger logger, string service, int version);

    [LoggerMessage(1003, LogLevel.Information, "Service {Service} {Action}")]
    public static partial void Changed(ILogger logger, string service, string action);

    [LoggerMessage(1004, LogLevel.Information, "Rejected spec for {Service}: {ErrorCount} errors")]
    public static partial void Rejected(ILogger logger, string service, int errorCount);

    [LoggerMessage(1005, LogLevel.Information, "Node {Node}: {Action}")]
    public static partial void NodeChanged(ILogger logger, string node, string action);

    [LoggerMessage(1006, LogLevel.Information, "Group {Group}: {Action}")]
    public static partial void GroupChanged(ILogger logger, string group, string action);
}
