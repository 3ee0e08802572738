using Microsoft.Extensions.Logging;

namespace Eas.Node.Agent.Gpus;

internal static partial class GpuLog
{
    [LoggerMessage(6001, LogLevel.Warning, "No GPUs: {Reason}")]
    public static partial void NoGpus(ILogger logger, string reason);

    [LoggerMessage(6002, LogLevel.Information, "GPU {Index}: {Uuid} {Model}, {MemoryMib} MiB{Mig}")]
    public static partial void Found(ILogger logger, int index, string uuid, string model, long memoryMib, string mig);

    [LoggerMessage(6003, LogLevel.Warning, "GPU {Index}: no XID events ({Reason}); health relies on polling")]
    public static partial void NoEvents(ILogger logger, int index, string reason);

    [LoggerMessage(6004, LogLevel.Warning, "Waiting for NVML events failed: {Reason}")]
    public static partial void EventWaitFailed(ILogger logger, string reason);

    [LoggerMessage(6005, LogLevel.Information, "GPU {Index}: XID {Xid} is an application error; the GPU stays healthy")]
    public static partial void IgnoredXid(ILogger logger, int index, ulong xid);

    [LoggerMessage(6006, LogLevel.Error, "GPU {Index} ({Uuid}): XID {Xid} critical error; marked unhealthy")]
    public static partial void Xid(ILogger logger, int index, string uuid, ulong xid);

    [LoggerMessage(6007, LogLevel.Warning, "Instance {Instance} uses {UsedMib} MiB of GPU memory, over its {SliceMib} MiB slice, for {Seconds} s: evicting it")]
    public static partial void Evicting(ILogger logger, string instance, long usedMib, long sliceMib, int seconds);

    [LoggerMessage(6008, LogLevel.Information, "MPS control daemon for GPU {Uuid} started (pid {Pid})")]
    public static partial void MpsStarted(ILogger logger, string uuid, int pid);

    [LoggerMessage(6009, LogLevel.Warning, "MPS control daemon for GPU {Uuid} exited; it is started again when an instance needs it")]
    public static partial void MpsExited(ILogger logger, string uuid);

    [LoggerMessage(6010, LogLevel.Information, "MPS control daemon for GPU {Uuid} stopped: no shared instance uses the GPU")]
    public static partial void MpsStopped(ILogger logger, string uuid);
}
