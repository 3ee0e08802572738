using Eas.Node.Agent.Interop.Nvml.Abi;

namespace Eas.Node.Agent.Interop.Nvml;

/// <summary>
/// A borrowed nvmlDevice_t (a whole GPU or a MIG device), valid while its <see cref="NvmlSession"/> is open; a MIG
/// device handle becomes invalid when its instance is destroyed. Every method throws <see cref="NvmlException"/>
/// on failure unless it says otherwise.
/// </summary>
public readonly record struct NvmlDevice
{
    internal NvmlDevice(nint handle) => Handle = handle;

    /// <summary>The raw nvmlDevice_t.</summary>
    public nint Handle { get; }

    /// <summary>nvmlDeviceGetName, e.g. "NVIDIA H100 80GB HBM3".</summary>
    public unsafe string Name()
    {
        var fn = NvmlLibrary.Require("nvmlDeviceGetName");
        var buffer = stackalloc byte[NvmlNative.NameBufferSize];
        NvmlLibrary.Check(NvmlNative.DeviceGetName(Handle, buffer, NvmlNative.NameBufferSize), fn);
        return NvmlStrings.FromUtf8(buffer, NvmlNative.NameBufferSize);
    }

    /// <summary>nvmlDeviceGetUUID: "GPU-…" for a GPU, "MIG-…" for a MIG device (stable for the MIG device's life).</summary>
    public unsafe string Uuid()
    {
        var fn = NvmlLibrary.Require("nvmlDeviceGetUUID");
        var buffer = stackalloc byte[NvmlNative.UuidBufferSize];
        NvmlLibrary.Check(NvmlNative.DeviceGetUuid(Handle, buffer, NvmlNative.UuidBufferSize), fn);
        return NvmlStrings.FromUtf8(buffer, NvmlNative.UuidBufferSize);
    }

    /// <summary>nvmlDeviceGetMemoryInfo_v2 when the driver has it (reserved memory separate, and counted as used), else nvmlDeviceGetMemoryInfo.</summary>
    public unsafe NvmlMemoryInfo Memory()
    {
        if (NvmlLibrary.Has("nvmlDeviceGetMemoryInfo_v2"))
        {
            var v2 = new MemoryV2 { Version = MemoryV2.StructVersion };
            var code = NvmlNative.DeviceGetMemoryInfoV2(Handle, &v2);
            if (code == NvmlReturn.Success)
            {
                return new NvmlMemoryInfo((long)v2.Total, (long)v2.Free, (long)v2.Used, (long)v2.Reserved);
            }

            if (code is not (NvmlReturn.NotSupported or NvmlReturn.FunctionNotFound or NvmlReturn.ArgumentVersionMismatch))
            {
                throw NvmlLibrary.Error(code, "nvmlDeviceGetMemoryInfo_v2");
            }
        }

        var fn = NvmlLibrary.Require("nvmlDeviceGetMemoryInfo");
        Memory v1;
        NvmlLibrary.Check(NvmlNative.DeviceGetMemoryInfo(Handle, &v1), fn);
        return new NvmlMemoryInfo((long)v1.Total, (long)v1.Free, (long)v1.Used, 0);
    }

    /// <summary>nvmlDeviceGetUtilizationRates (NOT_SUPPORTED on MIG devices).</summary>
    public unsafe NvmlUtilization Utilization()
    {
        var fn = NvmlLibrary.Require("nvmlDeviceGetUtilizationRates");
        Utilization rates;
        NvmlLibrary.Check(NvmlNative.DeviceGetUtilizationRates(Handle, &rates), fn);
        return new NvmlUtilization((int)rates.Gpu, (int)rates.Memory);
    }

    /// <summary>GPU core temperature (nvmlDeviceGetTemperatureV, else the deprecated nvmlDeviceGetTemperature); null when not supported.</summary>
    public unsafe int? TemperatureCelsius()
    {
        if (NvmlLibrary.Has("nvmlDeviceGetTemperatureV"))
        {
            var t = new TemperatureV1 { Version = TemperatureV1.StructVersion, SensorType = TemperatureV1.SensorGpu };
            var code = NvmlNative.DeviceGetTemperatureV(Handle, &t);
            if (code == NvmlReturn.Success)
            {
                return t.Temperature;
            }

            if (code is not (NvmlReturn.FunctionNotFound or NvmlReturn.ArgumentVersionMismatch))
            {
                return NullIfNotSupported(code, "nvmlDeviceGetTemperatureV");
            }
        }

        if (!NvmlLibrary.Has("nvmlDeviceGetTemperature"))
        {
            return null;
        }

        uint celsius;
        var legacy = NvmlNative.DeviceGetTemperature(Handle, TemperatureV1.SensorGpu, &celsius);
        return legacy == NvmlReturn.Success ? (int)celsius : NullIfNotSupported(legacy, "nvmlDeviceGetTemperature");
    }

    /// <summary>nvmlDeviceGetPowerUsage in milliwatts (a 1 s average on Ampere and later); null when not supported.</summary>
    public unsafe int? PowerMilliwatts()
    {
        if (!NvmlLibrary.Has("nvmlDeviceGetPowerUsage"))
        {
            return null;
        }

        uint milliwatts;
        var code = NvmlNative.DeviceGetPowerUsage(Handle, &milliwatts);
        return code == NvmlReturn.Success ? (int)milliwatts : NullIfNotSupported(code, "nvmlDeviceGetPowerUsage");
    }

    /// <summary>nvmlDeviceGetPciInfo_v3 (else _v2).</summary>
    public unsafe NvmlPciInfo PciInfo()
    {
        var fn = NvmlLibrary.Has("nvmlDeviceGetPciInfo_v3") ? "nvmlDeviceGetPciInfo_v3" : NvmlLibrary.Require("nvmlDeviceGetPciInfo_v2");
        PciInfo pci;
        NvmlLibrary.Check(fn == "nvmlDeviceGetPciInfo_v3" ? NvmlNative.DeviceGetPciInfoV3(Handle, &pci) : NvmlNative.DeviceGetPciInfoV2(Handle, &pci), fn);
        return new NvmlPciInfo(
            NvmlStrings.FromUtf8(pci.BusId, Abi.PciInfo.BusIdSize), pci.Domain, pci.Bus, pci.Device, pci.PciDeviceId, pci.PciSubSystemId);
    }

    /// <summary>nvmlDeviceGetMinorNumber: the N of /dev/nvidia&lt;N&gt;.</summary>
    public unsafe int MinorNumber()
    {
        var fn = NvmlLibrary.Require("nvmlDeviceGetMinorNumber");
        uint minor;
        NvmlLibrary.Check(NvmlNative.DeviceGetMinorNumber(Handle, &minor), fn);
        return (int)minor;
    }

    /// <summary>nvmlDeviceGetCudaComputeCapability, e.g. (9, 0) for H100.</summary>
    public unsafe (int Major, int Minor) CudaComputeCapability()
    {
        var fn = NvmlLibrary.Require("nvmlDeviceGetCudaComputeCapability");
        int major, minor;
        NvmlLibrary.Check(NvmlNative.DeviceGetCudaComputeCapability(Handle, &major, &minor), fn);
        return (major, minor);
    }

    /// <summary>
    /// Processes with a compute context on this device: nvmlDeviceGetRunningProcessDetailList when exported (versioned,
    /// so immune to the _v3 stride mix-up of some R535 drivers), else nvmlDeviceGetComputeRunningProcesses_v3/_v2/v1.
    /// The list is sized by asking first and grown while NVML answers INSUFFICIENT_SIZE (processes come and go).
    /// </summary>
    public IReadOnlyList<NvmlProcess> ComputeProcesses()
    {
        if (NvmlLibrary.Has("nvmlDeviceGetRunningProcessDetailList"))
        {
            var code = NvmlProcessLists.TryDetailList(Handle, out var processes);
            if (code == NvmlReturn.Success)
            {
                return processes;
            }

            if (code is not (NvmlReturn.NotSupported or NvmlReturn.FunctionNotFound or NvmlReturn.ArgumentVersionMismatch))
            {
                throw NvmlLibrary.Error(code, "nvmlDeviceGetRunningProcessDetailList");
            }
        }

        return NvmlProcessLists.ComputeRunningProcesses(Handle);
    }

    /// <summary>
    /// nvmlDeviceGetProcessUtilization: samples newer than <paramref name="lastSeenTimestamp"/> (µs; 0 = all buffered).
    /// Empty when there are none (NOT_FOUND) or the device cannot tell (NOT_SUPPORTED).
    /// </summary>
    public IReadOnlyList<NvmlProcessUtilization> ProcessUtilization(ulong lastSeenTimestamp) =>
        NvmlLibrary.Has("nvmlDeviceGetProcessUtilization") ? NvmlProcessLists.ProcessUtilization(Handle, lastSeenTimestamp) : [];

    /// <summary>nvmlDeviceGetMigMode: whether MIG is on now, and whether it will be after the next GPU reset.</summary>
    public unsafe (bool Current, bool Pending) MigMode()
    {
        var fn = NvmlLibrary.Require("nvmlDeviceGetMigMode");
        uint current, pending;
        NvmlLibrary.Check(NvmlNative.DeviceGetMigMode(Handle, &current, &pending), fn);
        return (current == NvmlNative.MigEnable, pending == NvmlNative.MigEnable);
    }

    /// <summary>
    /// nvmlDeviceSetMigMode (root; IN_USE while processes run). When the mode cannot take effect at once NVML still
    /// succeeds and leaves it pending until a GPU reset: compare <see cref="MigMode"/>'s Current and Pending.
    /// </summary>
    public unsafe void SetMigMode(bool enabled)
    {
        var fn = NvmlLibrary.Require("nvmlDeviceSetMigMode");
        NvmlReturn activation;
        NvmlLibrary.Check(NvmlNative.DeviceSetMigMode(Handle, enabled ? NvmlNative.MigEnable : 0u, &activation), fn);
    }

    /// <summary>nvmlDeviceGetMaxMigDeviceCount (0 when MIG is off).</summary>
    public unsafe int MaxMigDeviceCount()
    {
        var fn = NvmlLibrary.Require("nvmlDeviceGetMaxMigDeviceCount");
        uint count;
        NvmlLibrary.Check(NvmlNative.DeviceGetMaxMigDeviceCount(Handle, &count), fn);
        return (int)count;
    }

    /// <summary>The MIG devices that exist now: nvmlDeviceGetMigDeviceHandleByIndex over 0..max-1, skipping empty slots.</summary>
    public unsafe IReadOnlyList<NvmlDevice> MigDevices()
    {
        var max = MaxMigDeviceCount();
        var fn = NvmlLibrary.Require("nvmlDeviceGetMigDeviceHandleByIndex");
        var devices = new List<NvmlDevice>(max);
        for (var i = 0; i < max; i++)
        {
            nint mig;
            var code = NvmlNative.DeviceGetMigDeviceHandleByIndex(Handle, (uint)i, &mig);
            if (code == NvmlReturn.Success)
            {
                devices.Add(new NvmlDevice(mig));
            }
            else if (code is not (NvmlReturn.NotFound or NvmlReturn.InvalidArgument))
            {
                throw NvmlLibrary.Error(code, fn);
            }
        }

        return devices;
    }

    /// <summary>nvmlDeviceIsMigDeviceHandle.</summary>
    public unsafe bool IsMigDevice()
    {
        var fn = NvmlLibrary.Require("nvmlDeviceIsMigDeviceHandle");
        uint isMig;
        NvmlLibrary.Check(NvmlNative.DeviceIsMigDeviceHandle(Handle, &isMig), fn);
        return isMig != 0;
    }

    /// <summary>nvmlDeviceGetDeviceHandleFromMigDeviceHandle: the GPU a MIG device lives on.</summary>
    public unsafe NvmlDevice ParentDevice()
    {
        var fn = NvmlLibrary.Require("nvmlDeviceGetDeviceHandleFromMigDeviceHandle");
        nint parent;
        NvmlLibrary.Check(NvmlNative.DeviceGetDeviceHandleFromMigDeviceHandle(Handle, &parent), fn);
        return new NvmlDevice(parent);
    }

    /// <summary>nvmlDeviceGetGpuInstanceId of a MIG device.</summary>
    public unsafe int GpuInstanceId()
    {
        var fn = NvmlLibrary.Require("nvmlDeviceGetGpuInstanceId");
        uint id;
        NvmlLibrary.Check(NvmlNative.DeviceGetGpuInstanceId(Handle, &id), fn);
        return (int)id;
    }

    /// <summary>nvmlDeviceGetComputeInstanceId of a MIG device.</summary>
    public unsafe int ComputeInstanceId()
    {
        var fn = NvmlLibrary.Require("nvmlDeviceGetComputeInstanceId");
        uint id;
        NvmlLibrary.Check(NvmlNative.DeviceGetComputeInstanceId(Handle, &id), fn);
        return (int)id;
    }

    /// <summary>
    /// The GPU-instance profile at <paramref name="profileIndex"/> (NVML_GPU_INSTANCE_PROFILE_1_SLICE = 0, …):
    /// nvmlDeviceGetGpuInstanceProfileInfoV (v2) when exported, else nvmlDeviceGetGpuInstanceProfileInfo.
    /// Null when this GPU has no such profile (NOT_SUPPORTED / INVALID_ARGUMENT).
    /// </summary>
    public unsafe NvmlGpuInstanceProfile? GpuInstanceProfile(int profileIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(profileIndex);
        if (NvmlLibrary.Has("nvmlDeviceGetGpuInstanceProfileInfoV"))
        {
            var v2 = new GpuInstanceProfileInfoV2 { Version = GpuInstanceProfileInfoV2.StructVersion };
            var code = NvmlNative.DeviceGetGpuInstanceProfileInfoV(Handle, (uint)profileIndex, &v2);
            if (code == NvmlReturn.Success)
            {
                return new NvmlGpuInstanceProfile(
                    (int)v2.Id, (int)v2.SliceCount, (int)v2.InstanceCount, (int)v2.MultiprocessorCount, (long)v2.MemorySizeMB,
                    NvmlStrings.FromUtf8(v2.Name, GpuInstanceProfileInfoV2.NameSize));
            }

            if (code is NvmlReturn.NotSupported or NvmlReturn.InvalidArgument)
            {
                return null;
            }

            if (code is not (NvmlReturn.FunctionNotFound or NvmlReturn.ArgumentVersionMismatch))
            {
                throw NvmlLibrary.Error(code, "nvmlDeviceGetGpuInstanceProfileInfoV");
            }
        }

        var fn = NvmlLibrary.Require("nvmlDeviceGetGpuInstanceProfileInfo");
        GpuInstanceProfileInfo v1;
        var legacy = NvmlNative.DeviceGetGpuInstanceProfileInfo(Handle, (uint)profileIndex, &v1);
        if (legacy is NvmlReturn.NotSupported or NvmlReturn.InvalidArgument)
        {
            return null;
        }

        NvmlLibrary.Check(legacy, fn);
        return new NvmlGpuInstanceProfile(
            (int)v1.Id, (int)v1.SliceCount, (int)v1.InstanceCount, (int)v1.MultiprocessorCount, (long)v1.MemorySizeMB, string.Empty);
    }

    /// <summary>nvmlDeviceGetGpuInstanceRemainingCapacity: how many more instances of profile <paramref name="profileId"/> fit now.</summary>
    public unsafe int GpuInstanceRemainingCapacity(int profileId)
    {
        var fn = NvmlLibrary.Require("nvmlDeviceGetGpuInstanceRemainingCapacity");
        uint count;
        NvmlLibrary.Check(NvmlNative.DeviceGetGpuInstanceRemainingCapacity(Handle, (uint)profileId, &count), fn);
        return (int)count;
    }

    /// <summary>nvmlDeviceCreateGpuInstance with a profile <b>id</b> (from <see cref="GpuInstanceProfile"/>), placed by NVML.</summary>
    public unsafe NvmlGpuInstance CreateGpuInstance(int profileId)
    {
        var fn = NvmlLibrary.Require("nvmlDeviceCreateGpuInstance");
        nint instance;
        NvmlLibrary.Check(NvmlNative.DeviceCreateGpuInstance(Handle, (uint)profileId, &instance), fn);
        return new NvmlGpuInstance(instance);
    }

    /// <summary>nvmlDeviceGetGpuInstances: the GPU instances of profile <paramref name="profileId"/> that exist now.</summary>
    public unsafe IReadOnlyList<NvmlGpuInstance> GpuInstances(int profileId)
    {
        var fn = NvmlLibrary.Require("nvmlDeviceGetGpuInstances");
        var handles = stackalloc nint[NvmlGpuInstance.MaxInstances];
        var count = (uint)NvmlGpuInstance.MaxInstances;
        NvmlLibrary.Check(NvmlNative.DeviceGetGpuInstances(Handle, (uint)profileId, handles, &count), fn);
        var result = new NvmlGpuInstance[Math.Min((int)count, NvmlGpuInstance.MaxInstances)];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = new NvmlGpuInstance(handles[i]);
        }

        return result;
    }

    private static int? NullIfNotSupported(NvmlReturn code, string function) =>
        code == NvmlReturn.NotSupported ? null : throw NvmlLibrary.Error(code, function);
}
