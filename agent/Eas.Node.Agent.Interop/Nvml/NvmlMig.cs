using Eas.Node.Agent.Interop.Nvml.Abi;

namespace Eas.Node.Agent.Interop.Nvml;

/// <summary>A borrowed nvmlGpuInstance_t: a MIG GPU instance (memory slices and SMs of one GPU).</summary>
public readonly record struct NvmlGpuInstance
{
    /// <summary>More GPU (or compute) instances of one profile than any GPU has (7 on A100/H100).</summary>
    internal const int MaxInstances = 64;

    internal NvmlGpuInstance(nint handle) => Handle = handle;

    /// <summary>The raw nvmlGpuInstance_t.</summary>
    public nint Handle { get; }

    /// <summary>nvmlGpuInstanceGetInfo.</summary>
    public unsafe NvmlGpuInstanceInfo Info()
    {
        var fn = NvmlLibrary.Require("nvmlGpuInstanceGetInfo");
        GpuInstanceInfo info;
        NvmlLibrary.Check(NvmlNative.GpuInstanceGetInfo(Handle, &info), fn);
        return new NvmlGpuInstanceInfo(new NvmlDevice(info.Device), (int)info.Id, (int)info.ProfileId, (int)info.Placement.Start, (int)info.Placement.Size);
    }

    /// <summary>
    /// Creates a compute instance: looks up the profile id of compute profile <paramref name="computeProfileIndex"/>
    /// (NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE = 0, …) with the shared engine profile, then nvmlGpuInstanceCreateComputeInstance.
    /// </summary>
    public unsafe NvmlComputeInstance CreateComputeInstance(int computeProfileIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(computeProfileIndex);
        var infoFn = NvmlLibrary.Require("nvmlGpuInstanceGetComputeInstanceProfileInfo");
        ComputeInstanceProfileInfo profile;
        NvmlLibrary.Check(
            NvmlNative.GpuInstanceGetComputeInstanceProfileInfo(Handle, (uint)computeProfileIndex, NvmlNative.ComputeInstanceEngineProfileShared, &profile), infoFn);

        var fn = NvmlLibrary.Require("nvmlGpuInstanceCreateComputeInstance");
        nint instance;
        NvmlLibrary.Check(NvmlNative.GpuInstanceCreateComputeInstance(Handle, profile.Id, &instance), fn);
        return new NvmlComputeInstance(instance);
    }

    /// <summary>nvmlGpuInstanceGetComputeInstances: the compute instances of profile <paramref name="profileId"/> in this GPU instance.</summary>
    public unsafe IReadOnlyList<NvmlComputeInstance> ComputeInstances(int profileId)
    {
        var fn = NvmlLibrary.Require("nvmlGpuInstanceGetComputeInstances");
        var handles = stackalloc nint[MaxInstances];
        var count = (uint)MaxInstances;
        NvmlLibrary.Check(NvmlNative.GpuInstanceGetComputeInstances(Handle, (uint)profileId, handles, &count), fn);
        var result = new NvmlComputeInstance[Math.Min((int)count, MaxInstances)];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = new NvmlComputeInstance(handles[i]);
        }

        return result;
    }

    /// <summary>nvmlGpuInstanceDestroy (IN_USE while it has compute instances or processes: destroy those first).</summary>
    public void Destroy()
    {
        var fn = NvmlLibrary.Require("nvmlGpuInstanceDestroy");
        NvmlLibrary.Check(NvmlNative.GpuInstanceDestroy(Handle), fn);
    }
}

/// <summary>A borrowed nvmlComputeInstance_t: a compute instance inside a GPU instance (seen by CUDA as a MIG device).</summary>
public readonly record struct NvmlComputeInstance
{
    internal NvmlComputeInstance(nint handle) => Handle = handle;

    /// <summary>The raw nvmlComputeInstance_t.</summary>
    public nint Handle { get; }

    /// <summary>nvmlComputeInstanceGetInfo_v2 (else the v1 call).</summary>
    public unsafe NvmlComputeInstanceInfo Info()
    {
        var fn = NvmlLibrary.Has("nvmlComputeInstanceGetInfo_v2") ? "nvmlComputeInstanceGetInfo_v2" : NvmlLibrary.Require("nvmlComputeInstanceGetInfo");
        ComputeInstanceInfo info;
        NvmlLibrary.Check(
            fn == "nvmlComputeInstanceGetInfo_v2" ? NvmlNative.ComputeInstanceGetInfoV2(Handle, &info) : NvmlNative.ComputeInstanceGetInfoV1(Handle, &info), fn);
        return new NvmlComputeInstanceInfo(
            new NvmlDevice(info.Device), new NvmlGpuInstance(info.GpuInstance), (int)info.Id, (int)info.ProfileId, (int)info.Placement.Start, (int)info.Placement.Size);
    }

    /// <summary>nvmlComputeInstanceDestroy (IN_USE while processes run on it).</summary>
    public void Destroy()
    {
        var fn = NvmlLibrary.Require("nvmlComputeInstanceDestroy");
        NvmlLibrary.Check(NvmlNative.ComputeInstanceDestroy(Handle), fn);
    }
}
