using System.Runtime.InteropServices;
using Eas.Node.Agent.Interop.Nvml.Abi;

namespace Eas.Node.Agent.Interop.Nvml;

/// <summary>
/// The NVML exports this binding calls, by their versioned names (nvml.h maps nvmlInit to nvmlInit_v2 and so on only
/// for C callers). Handles are passed as nint. Callers check <see cref="NvmlLibrary.Require"/> first.
/// </summary>
internal static unsafe partial class NvmlNative
{
    internal const int DriverVersionBufferSize = 80;  // NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE
    internal const int NameBufferSize = 96;           // NVML_DEVICE_NAME_V2_BUFFER_SIZE
    internal const int UuidBufferSize = 96;           // NVML_DEVICE_UUID_V2_BUFFER_SIZE
    internal const uint ComputeInstanceEngineProfileShared = 0;
    internal const uint MigEnable = 1;
    internal const ulong ValueNotAvailable = ulong.MaxValue;  // NVML_VALUE_NOT_AVAILABLE
    internal const uint NotAttributable = uint.MaxValue;      // GI/CI id of a non-MIG process or event

    private const string Lib = NvmlLibrary.ImportName;

    // Initialization and errors.

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlInitializationAndCleanup.html
    [LibraryImport(Lib, EntryPoint = "nvmlInit_v2")]
    internal static partial NvmlReturn Init();

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlInitializationAndCleanup.html
    [LibraryImport(Lib, EntryPoint = "nvmlInit")]
    internal static partial NvmlReturn InitV1();

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlInitializationAndCleanup.html
    [LibraryImport(Lib, EntryPoint = "nvmlShutdown")]
    internal static partial NvmlReturn Shutdown();

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlErrorReporting.html
    [LibraryImport(Lib, EntryPoint = "nvmlErrorString")]
    internal static partial byte* ErrorString(NvmlReturn result);

    // System queries.

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlSystemQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlSystemGetDriverVersion")]
    internal static partial NvmlReturn SystemGetDriverVersion(byte* version, uint length);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlSystemQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlSystemGetCudaDriverVersion")]
    internal static partial NvmlReturn SystemGetCudaDriverVersion(int* cudaDriverVersion);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlSystemQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlSystemGetCudaDriverVersion_v2")]
    internal static partial NvmlReturn SystemGetCudaDriverVersionV2(int* cudaDriverVersion);

    // Device queries.

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetCount_v2")]
    internal static partial NvmlReturn DeviceGetCount(uint* deviceCount);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetHandleByIndex_v2")]
    internal static partial NvmlReturn DeviceGetHandleByIndex(uint index, nint* device);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetHandleByUUID")]
    internal static partial NvmlReturn DeviceGetHandleByUuid(byte* uuid, nint* device);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetName")]
    internal static partial NvmlReturn DeviceGetName(nint device, byte* name, uint length);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetUUID")]
    internal static partial NvmlReturn DeviceGetUuid(nint device, byte* uuid, uint length);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetMemoryInfo")]
    internal static partial NvmlReturn DeviceGetMemoryInfo(nint device, Memory* memory);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetMemoryInfo_v2")]
    internal static partial NvmlReturn DeviceGetMemoryInfoV2(nint device, MemoryV2* memory);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetUtilizationRates")]
    internal static partial NvmlReturn DeviceGetUtilizationRates(nint device, Utilization* utilization);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html (deprecated in 13.0 for TemperatureV)
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetTemperature")]
    internal static partial NvmlReturn DeviceGetTemperature(nint device, int sensorType, uint* temperature);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetTemperatureV")]
    internal static partial NvmlReturn DeviceGetTemperatureV(nint device, TemperatureV1* temperature);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetPowerUsage")]
    internal static partial NvmlReturn DeviceGetPowerUsage(nint device, uint* milliwatts);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetRunningProcessDetailList")]
    internal static partial NvmlReturn DeviceGetRunningProcessDetailList(nint device, ProcessDetailList* list);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetComputeRunningProcesses_v3")]
    internal static partial NvmlReturn DeviceGetComputeRunningProcessesV3(nint device, uint* infoCount, ProcessInfo* infos);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetComputeRunningProcesses_v2")]
    internal static partial NvmlReturn DeviceGetComputeRunningProcessesV2(nint device, uint* infoCount, ProcessInfo* infos);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetComputeRunningProcesses")]
    internal static partial NvmlReturn DeviceGetComputeRunningProcessesV1(nint device, uint* infoCount, ProcessInfoV1* infos);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetProcessUtilization")]
    internal static partial NvmlReturn DeviceGetProcessUtilization(nint device, ProcessUtilizationSample* utilization, uint* processSamplesCount, ulong lastSeenTimeStamp);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetPciInfo_v3")]
    internal static partial NvmlReturn DeviceGetPciInfoV3(nint device, PciInfo* pci);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetPciInfo_v2")]
    internal static partial NvmlReturn DeviceGetPciInfoV2(nint device, PciInfo* pci);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetMinorNumber")]
    internal static partial NvmlReturn DeviceGetMinorNumber(nint device, uint* minorNumber);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlDeviceQueries.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetCudaComputeCapability")]
    internal static partial NvmlReturn DeviceGetCudaComputeCapability(nint device, int* major, int* minor);

    // Multi-Instance GPU.

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetMigMode")]
    internal static partial NvmlReturn DeviceGetMigMode(nint device, uint* currentMode, uint* pendingMode);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceSetMigMode")]
    internal static partial NvmlReturn DeviceSetMigMode(nint device, uint mode, NvmlReturn* activationStatus);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetMaxMigDeviceCount")]
    internal static partial NvmlReturn DeviceGetMaxMigDeviceCount(nint device, uint* count);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetMigDeviceHandleByIndex")]
    internal static partial NvmlReturn DeviceGetMigDeviceHandleByIndex(nint device, uint index, nint* migDevice);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetDeviceHandleFromMigDeviceHandle")]
    internal static partial NvmlReturn DeviceGetDeviceHandleFromMigDeviceHandle(nint migDevice, nint* device);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceIsMigDeviceHandle")]
    internal static partial NvmlReturn DeviceIsMigDeviceHandle(nint device, uint* isMigDevice);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetGpuInstanceId")]
    internal static partial NvmlReturn DeviceGetGpuInstanceId(nint device, uint* id);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetComputeInstanceId")]
    internal static partial NvmlReturn DeviceGetComputeInstanceId(nint device, uint* id);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetGpuInstanceProfileInfo")]
    internal static partial NvmlReturn DeviceGetGpuInstanceProfileInfo(nint device, uint profile, GpuInstanceProfileInfo* info);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetGpuInstanceProfileInfoV")]
    internal static partial NvmlReturn DeviceGetGpuInstanceProfileInfoV(nint device, uint profile, GpuInstanceProfileInfoV2* info);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetGpuInstanceRemainingCapacity")]
    internal static partial NvmlReturn DeviceGetGpuInstanceRemainingCapacity(nint device, uint profileId, uint* count);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceCreateGpuInstance")]
    internal static partial NvmlReturn DeviceCreateGpuInstance(nint device, uint profileId, nint* gpuInstance);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetGpuInstances")]
    internal static partial NvmlReturn DeviceGetGpuInstances(nint device, uint profileId, nint* gpuInstances, uint* count);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlGpuInstanceGetInfo")]
    internal static partial NvmlReturn GpuInstanceGetInfo(nint gpuInstance, GpuInstanceInfo* info);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlGpuInstanceGetComputeInstanceProfileInfo")]
    internal static partial NvmlReturn GpuInstanceGetComputeInstanceProfileInfo(nint gpuInstance, uint profile, uint engProfile, ComputeInstanceProfileInfo* info);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlGpuInstanceCreateComputeInstance")]
    internal static partial NvmlReturn GpuInstanceCreateComputeInstance(nint gpuInstance, uint profileId, nint* computeInstance);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlGpuInstanceGetComputeInstances")]
    internal static partial NvmlReturn GpuInstanceGetComputeInstances(nint gpuInstance, uint profileId, nint* computeInstances, uint* count);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlGpuInstanceDestroy")]
    internal static partial NvmlReturn GpuInstanceDestroy(nint gpuInstance);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlComputeInstanceGetInfo_v2")]
    internal static partial NvmlReturn ComputeInstanceGetInfoV2(nint computeInstance, ComputeInstanceInfo* info);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlComputeInstanceGetInfo")]
    internal static partial NvmlReturn ComputeInstanceGetInfoV1(nint computeInstance, ComputeInstanceInfo* info);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlMultiInstanceGPU.html
    [LibraryImport(Lib, EntryPoint = "nvmlComputeInstanceDestroy")]
    internal static partial NvmlReturn ComputeInstanceDestroy(nint computeInstance);

    // Events.

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlEvents.html
    [LibraryImport(Lib, EntryPoint = "nvmlEventSetCreate")]
    internal static partial NvmlReturn EventSetCreate(out NvmlEventSetHandle set);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlEvents.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetSupportedEventTypes")]
    internal static partial NvmlReturn DeviceGetSupportedEventTypes(nint device, ulong* eventTypes);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlEvents.html
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceRegisterEvents")]
    internal static partial NvmlReturn DeviceRegisterEvents(nint device, ulong eventTypes, NvmlEventSetHandle set);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlEvents.html
    [LibraryImport(Lib, EntryPoint = "nvmlEventSetWait_v2")]
    internal static partial NvmlReturn EventSetWaitV2(NvmlEventSetHandle set, EventData* data, uint timeoutMs);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlEvents.html
    [LibraryImport(Lib, EntryPoint = "nvmlEventSetWait")]
    internal static partial NvmlReturn EventSetWaitV1(NvmlEventSetHandle set, EventData* data, uint timeoutMs);

    /// see: https://docs.nvidia.com/deploy/nvml-api/group__nvmlEvents.html
    [LibraryImport(Lib, EntryPoint = "nvmlEventSetFree")]
    internal static partial NvmlReturn EventSetFree(nint set);
}
