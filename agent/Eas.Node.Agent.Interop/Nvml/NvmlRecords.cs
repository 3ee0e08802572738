namespace Eas.Node.Agent.Interop.Nvml;

/// <summary>Frame-buffer memory of a GPU or MIG device. With nvmlDeviceGetMemoryInfo_v2 the reserved memory is
/// counted in <see cref="UsedBytes"/>; with the v1 call <see cref="ReservedBytes"/> is 0.</summary>
public readonly record struct NvmlMemoryInfo(long TotalBytes, long FreeBytes, long UsedBytes, long ReservedBytes);

/// <summary>nvmlUtilization_t: percent of time a kernel ran / device memory was read or written over the last sample period.</summary>
public readonly record struct NvmlUtilization(int GpuPercent, int MemoryPercent);

/// <summary>PCI location; <see cref="BusId"/> is "domain:bus:device.function", e.g. "00000000:18:00.0".</summary>
public readonly record struct NvmlPciInfo(string BusId, uint Domain, uint Bus, uint Device, uint PciDeviceId, uint PciSubSystemId);

/// <summary>A process with a compute context on a device. <see cref="UsedBytes"/> is -1 when NVML cannot tell
/// (NVML_VALUE_NOT_AVAILABLE); the instance ids are 0xFFFFFFFF outside MIG.</summary>
public readonly record struct NvmlProcess(int Pid, long UsedBytes, uint GpuInstanceId, uint ComputeInstanceId);

/// <summary>nvmlProcessUtilizationSample_t: one process's utilization sample; <see cref="TimestampMicros"/> is CPU time in µs.</summary>
public readonly record struct NvmlProcessUtilization(int Pid, ulong TimestampMicros, int SmPercent, int MemoryPercent, int EncoderPercent, int DecoderPercent);

/// <summary>A GPU-instance profile (nvmlGpuInstanceProfileInfo_v2_t). <see cref="Id"/> is what CreateGpuInstance takes;
/// <see cref="Name"/> (e.g. "MIG 1g.10gb") is empty on drivers without nvmlDeviceGetGpuInstanceProfileInfoV.</summary>
public sealed record NvmlGpuInstanceProfile(int Id, int SliceCount, int InstanceCount, int MultiprocessorCount, long MemoryMib, string Name);

/// <summary>nvmlGpuInstanceInfo_t: the parent GPU, the instance id, its profile id and its placement in memory slices.</summary>
public readonly record struct NvmlGpuInstanceInfo(NvmlDevice Device, int Id, int ProfileId, int PlacementStart, int PlacementSize);

/// <summary>nvmlComputeInstanceInfo_t: the parent GPU and GPU instance, the instance id, its profile id and placement.</summary>
public readonly record struct NvmlComputeInstanceInfo(NvmlDevice Device, NvmlGpuInstance GpuInstance, int Id, int ProfileId, int PlacementStart, int PlacementSize);

/// <summary>One event from <see cref="NvmlEventSet.Wait"/>. For XidCriticalError <see cref="Xid"/> is the XID (999 = unknown);
/// the instance ids are 0xFFFFFFFF when the event is not attributable to a MIG instance.</summary>
public readonly record struct NvmlEvent(NvmlDevice Device, ulong EventType, ulong Xid, uint GpuInstanceId, uint ComputeInstanceId);

/// <summary>nvmlEventType bits (u64 mask).</summary>
public static class NvmlEventTypes
{
    public const ulong SingleBitEccError = 0x1;
    public const ulong DoubleBitEccError = 0x2;
    public const ulong PState = 0x4;
    public const ulong XidCriticalError = 0x8;
    public const ulong Clock = 0x10;
    public const ulong PowerSourceChange = 0x80;
    public const ulong MigConfigChange = 0x100;
}

internal static class NvmlStrings
{
    /// <summary>The UTF-8 text in <paramref name="buffer"/> up to its first NUL (or its end).</summary>
    internal static unsafe string FromUtf8(byte* buffer, int length)
    {
        var span = new ReadOnlySpan<byte>(buffer, length);
        var end = span.IndexOf((byte)0);
        return System.Text.Encoding.UTF8.GetString(end < 0 ? span : span[..end]);
    }
}
