using Microsoft.Extensions.Logging;

namespace Eas.Node.Agent.Runtime;

/// <summary>Runtime (conmon + runc) log messages (event ids 300-399).</summary>
internal static partial class RuntimeLog
{
    [LoggerMessage(300, LogLevel.Information, "Started container {ContainerId}: pid {Pid}, conmon {ConmonPid}")]
    public static partial void Started(ILogger logger, string containerId, int pid, int conmonPid);

    [LoggerMessage(301, LogLevel.Debug, "Deleted container {ContainerId}")]
    public static partial void Deleted(ILogger logger, string containerId);

    [LoggerMessage(302, LogLevel.Warning, "conmon {ConmonPid} of {ContainerId} outlived its container; killed it")]
    public static partial void ConmonKilled(ILogger logger, string containerId, int conmonPid);

    [LoggerMessage(303, LogLevel.Warning, "cgroup directories of {ContainerId} still hold processes: {Dirs}")]
    public static partial void CgroupsStuck(ILogger logger, string containerId, string dirs);

    [LoggerMessage(304, LogLevel.Warning, "runc delete {ContainerId} failed: {Output}")]
    public static partial void DeleteFailed(ILogger logger, string containerId, string output);

    [LoggerMessage(305, LogLevel.Information, "Sent signal {Signal} to {ContainerId} (pid {Pid})")]
    public static partial void Signaled(ILogger logger, string containerId, int signal, int pid);

    [LoggerMessage(306, LogLevel.Warning, "conmon of {ContainerId} died while the container (pid {Pid}) runs; killing it so it restarts with a monitor (nobody reads its output or records its exit)")]
    public static partial void MonitorLost(ILogger logger, string containerId, int pid);
}
