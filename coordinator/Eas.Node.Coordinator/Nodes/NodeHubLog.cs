namespace Eas.Node.Coordinator.Nodes;

internal static partial class NodeHubLog
{
    [LoggerMessage(2000, LogLevel.Information, "Node {Node} registered from {Address}: {CpuMillis} mCPU, {MemoryMib} MiB, agent {AgentVersion}, {InstanceCount} instances running")]
    public static partial void Registered(ILogger logger, string node, string address, long cpuMillis, long memoryMib, string agentVersion, int instanceCount);

    [LoggerMessage(2001, LogLevel.Information, "Node {Node} disconnected")]
    public static partial void Disconnected(ILogger logger, string node);

    [LoggerMessage(2002, LogLevel.Warning, "Node {Node} stream failed")]
    public static partial void StreamFailed(ILogger logger, string node, Exception exception);

    [LoggerMessage(2003, LogLevel.Debug, "Sent node {Node} generation {Generation} with {Count} instances")]
    public static partial void SentDesired(ILogger logger, string node, long generation, int count);

    [LoggerMessage(2004, LogLevel.Warning, "Node {Node} is Down: no heartbeat for {Silence}")]
    public static partial void NodeDown(ILogger logger, string node, TimeSpan silence);

    [LoggerMessage(2005, LogLevel.Information, "Node {Node} is Ready again")]
    public static partial void NodeBack(ILogger logger, string node);

    [LoggerMessage(2006, LogLevel.Debug, "Node {Node} reported {Instance} which is not assigned to it; the agent will stop it")]
    public static partial void UnknownInstance(ILogger logger, string node, string instance);

    [LoggerMessage(2007, LogLevel.Information, "Node {Node} connected again; closing its previous stream")]
    public static partial void Replaced(ILogger logger, string node);

    [LoggerMessage(2008, LogLevel.Error, "Node liveness check failed")]
    public static partial void LivenessFailed(ILogger logger, Exception exception);

    [LoggerMessage(2009, LogLevel.Warning, "Node {Node} GPU {Index} ({Uuid}) is {Health} {Reason}")]
    public static partial void GpuHealth(ILogger logger, string node, int index, string uuid, string health, string reason);
}
