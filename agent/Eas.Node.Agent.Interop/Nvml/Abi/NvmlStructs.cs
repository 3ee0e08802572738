using System.Runtime.InteropServices;

namespace Eas.Node.Agent.Interop.Nvml.Abi;

// The C structs of nvml.h (go-nvml copy synced to CUDA 13.3), x86-64/aarch64 Linux layout. Field names are the C
// names in PascalCase so that the layout test can match them against the offsets the fake's nvml-layout prints.
// Sizes and offsets: shared/reference/gpu-and-node-agents.md §1.5.

/// <summary>nvmlMemory_t (24 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct Memory
{
    public ulong Total;
    public ulong Free;
    public ulong Used;
}

/// <summary>nvmlMemory_v2_t (40 bytes); <see cref="Version"/> = NVML_STRUCT_VERSION(Memory, 2).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct MemoryV2
{
    public const uint StructVersion = 40 | (2u << 24);

    public uint Version;
    public ulong Total;
    public ulong Reserved;
    public ulong Free;
    public ulong Used;
}

/// <summary>nvmlUtilization_t (8 bytes), percentages over the last sample period.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct Utilization
{
    public uint Gpu;
    public uint Memory;
}

/// <summary>nvmlProcessInfo_v1_t (16 bytes), filled by the unversioned nvmlDeviceGetComputeRunningProcesses.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ProcessInfoV1
{
    public uint Pid;
    public ulong UsedGpuMemory;
}

/// <summary>nvmlProcessInfo_t (= v2, 24 bytes), filled by nvmlDeviceGetComputeRunningProcesses_v2/_v3.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ProcessInfo
{
    public uint Pid;
    public ulong UsedGpuMemory;
    public uint GpuInstanceId;
    public uint ComputeInstanceId;
}

/// <summary>nvmlProcessDetail_v1_t (32 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ProcessDetail
{
    public uint Pid;
    public ulong UsedGpuMemory;
    public uint GpuInstanceId;
    public uint ComputeInstanceId;
    public ulong UsedGpuCcProtectedMemory;
}

/// <summary>nvmlProcessDetailList_v1_t (24 bytes), argument of nvmlDeviceGetRunningProcessDetailList.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct ProcessDetailList
{
    public const uint StructVersion = 24 | (1u << 24);

    /// <summary>NVML_PROCESS_MODE_COMPUTE.</summary>
    public const uint ModeCompute = 0;

    public uint Version;
    public uint Mode;
    public uint NumProcArrayEntries;
    public ProcessDetail* ProcArray;
}

/// <summary>nvmlProcessUtilizationSample_t (32 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ProcessUtilizationSample
{
    public uint Pid;
    public ulong TimeStamp;
    public uint SmUtil;
    public uint MemUtil;
    public uint EncUtil;
    public uint DecUtil;
}

/// <summary>nvmlPciInfo_t (68 bytes), as filled by nvmlDeviceGetPciInfo_v3.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct PciInfo
{
    public const int BusIdLegacySize = 16;
    public const int BusIdSize = 32;

    public fixed byte BusIdLegacy[BusIdLegacySize];
    public uint Domain;
    public uint Bus;
    public uint Device;
    public uint PciDeviceId;
    public uint PciSubSystemId;
    public fixed byte BusId[BusIdSize];
}

/// <summary>nvmlEventData_t (32 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct EventData
{
    public nint Device;
    public ulong EventType;
    /// <summary>eventData: the XID for XidCriticalError (999 = unknown XID).</summary>
    public ulong Data;
    public uint GpuInstanceId;
    public uint ComputeInstanceId;
}

/// <summary>nvmlTemperature_v1_t (12 bytes), argument of nvmlDeviceGetTemperatureV.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct TemperatureV1
{
    public const uint StructVersion = 12 | (1u << 24);

    /// <summary>NVML_TEMPERATURE_GPU.</summary>
    public const int SensorGpu = 0;

    public uint Version;
    public int SensorType;
    public int Temperature;
}

/// <summary>nvmlGpuInstanceProfileInfo_t (48 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct GpuInstanceProfileInfo
{
    public uint Id;
    public uint IsP2pSupported;
    public uint SliceCount;
    public uint InstanceCount;
    public uint MultiprocessorCount;
    public uint CopyEngineCount;
    public uint DecoderCount;
    public uint EncoderCount;
    public uint JpegCount;
    public uint OfaCount;
    public ulong MemorySizeMB;
}

/// <summary>nvmlGpuInstanceProfileInfo_v2_t (152 bytes), argument of nvmlDeviceGetGpuInstanceProfileInfoV.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct GpuInstanceProfileInfoV2
{
    public const uint StructVersion = 152 | (2u << 24);
    public const int NameSize = 96;

    public uint Version;
    public uint Id;
    public uint IsP2pSupported;
    public uint SliceCount;
    public uint InstanceCount;
    public uint MultiprocessorCount;
    public uint CopyEngineCount;
    public uint DecoderCount;
    public uint EncoderCount;
    public uint JpegCount;
    public uint OfaCount;
    public ulong MemorySizeMB;
    public fixed byte Name[NameSize];
}

/// <summary>nvmlGpuInstanceProfileInfo_v3_t (152 bytes): no isP2pSupported, adds capabilities.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct GpuInstanceProfileInfoV3
{
    public const uint StructVersion = 152 | (3u << 24);
    public const int NameSize = 96;

    public uint Version;
    public uint Id;
    public uint SliceCount;
    public uint InstanceCount;
    public uint MultiprocessorCount;
    public uint CopyEngineCount;
    public uint DecoderCount;
    public uint EncoderCount;
    public uint JpegCount;
    public uint OfaCount;
    public ulong MemorySizeMB;
    public fixed byte Name[NameSize];
    public uint Capabilities;
}

/// <summary>nvmlGpuInstancePlacement_t (8 bytes), in memory slices.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct GpuInstancePlacement
{
    public uint Start;
    public uint Size;
}

/// <summary>nvmlGpuInstanceInfo_t (24 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct GpuInstanceInfo
{
    public nint Device;
    public uint Id;
    public uint ProfileId;
    public GpuInstancePlacement Placement;
}

/// <summary>nvmlComputeInstanceProfileInfo_t (36 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ComputeInstanceProfileInfo
{
    public uint Id;
    public uint SliceCount;
    public uint InstanceCount;
    public uint MultiprocessorCount;
    public uint SharedCopyEngineCount;
    public uint SharedDecoderCount;
    public uint SharedEncoderCount;
    public uint SharedJpegCount;
    public uint SharedOfaCount;
}

/// <summary>nvmlComputeInstancePlacement_t (8 bytes), in compute slices.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ComputeInstancePlacement
{
    public uint Start;
    public uint Size;
}

/// <summary>nvmlComputeInstanceInfo_t (32 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ComputeInstanceInfo
{
    public nint Device;
    public nint GpuInstance;
    public uint Id;
    public uint ProfileId;
    public ComputeInstancePlacement Placement;
}
