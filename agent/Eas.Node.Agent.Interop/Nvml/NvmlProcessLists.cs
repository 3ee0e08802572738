using Eas.Node.Agent.Interop.Nvml.Abi;

namespace Eas.Node.Agent.Interop.Nvml;

/// <summary>The NVML calls that fill a caller-sized array: ask, allocate with headroom, retry while it grew.</summary>
internal static class NvmlProcessLists
{
    private const int Headroom = 8;
    private const int MaxAttempts = 8;

    internal static unsafe NvmlReturn TryDetailList(nint device, out IReadOnlyList<NvmlProcess> processes)
    {
        processes = [];
        uint capacity = 0;
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var buffer = new ProcessDetail[capacity];
            var list = new ProcessDetailList { Version = ProcessDetailList.StructVersion, Mode = ProcessDetailList.ModeCompute, NumProcArrayEntries = capacity };
            NvmlReturn code;
            fixed (ProcessDetail* entries = buffer)
            {
                list.ProcArray = capacity == 0 ? null : entries;
                code = NvmlNative.DeviceGetRunningProcessDetailList(device, &list);
            }

            if (code == NvmlReturn.Success)
            {
                processes = [.. buffer.Take((int)Math.Min(list.NumProcArrayEntries, capacity))
                    .Select(p => Process(p.Pid, p.UsedGpuMemory, p.GpuInstanceId, p.ComputeInstanceId))];
                return code;
            }

            if (code != NvmlReturn.InsufficientSize)
            {
                return code;
            }

            capacity = Math.Max(list.NumProcArrayEntries, capacity) + Headroom;
        }

        return NvmlReturn.InsufficientSize;
    }

    internal static unsafe IReadOnlyList<NvmlProcess> ComputeRunningProcesses(nint device)
    {
        if (!NvmlLibrary.Has("nvmlDeviceGetComputeRunningProcesses_v3") && !NvmlLibrary.Has("nvmlDeviceGetComputeRunningProcesses_v2"))
        {
            return ComputeRunningProcessesV1(device);
        }

        var v3 = NvmlLibrary.Has("nvmlDeviceGetComputeRunningProcesses_v3");
        var fn = v3 ? "nvmlDeviceGetComputeRunningProcesses_v3" : "nvmlDeviceGetComputeRunningProcesses_v2";
        uint capacity = 0;
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var buffer = new ProcessInfo[capacity];
            var count = capacity;
            NvmlReturn code;
            fixed (ProcessInfo* infos = buffer)
            {
                var p = capacity == 0 ? null : infos;
                code = v3 ? NvmlNative.DeviceGetComputeRunningProcessesV3(device, &count, p) : NvmlNative.DeviceGetComputeRunningProcessesV2(device, &count, p);
            }

            if (code == NvmlReturn.Success)
            {
                return [.. buffer.Take((int)Math.Min(count, capacity)).Select(p => Process(p.Pid, p.UsedGpuMemory, p.GpuInstanceId, p.ComputeInstanceId))];
            }

            if (code != NvmlReturn.InsufficientSize)
            {
                throw NvmlLibrary.Error(code, fn);
            }

            capacity = Math.Max(count, capacity) + Headroom;
        }

        throw NvmlLibrary.Error(NvmlReturn.InsufficientSize, fn);
    }

    internal static unsafe IReadOnlyList<NvmlProcessUtilization> ProcessUtilization(nint device, ulong lastSeenTimestamp)
    {
        const string Fn = "nvmlDeviceGetProcessUtilization";
        uint capacity = 0;
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var buffer = new ProcessUtilizationSample[capacity];
            var count = capacity;
            NvmlReturn code;
            fixed (ProcessUtilizationSample* samples = buffer)
            {
                code = NvmlNative.DeviceGetProcessUtilization(device, capacity == 0 ? null : samples, &count, lastSeenTimestamp);
            }

            switch (code)
            {
                case NvmlReturn.Success:
                    return [.. buffer.Take((int)Math.Min(count, capacity)).Select(s => new NvmlProcessUtilization(
                        (int)s.Pid, s.TimeStamp, (int)s.SmUtil, (int)s.MemUtil, (int)s.EncUtil, (int)s.DecUtil))];
                case NvmlReturn.NotFound or NvmlReturn.NotSupported:
                    return [];
                case NvmlReturn.InsufficientSize:
                    capacity = Math.Max(count, capacity) + Headroom;
                    break;
                default:
                    throw NvmlLibrary.Error(code, Fn);
            }
        }

        throw NvmlLibrary.Error(NvmlReturn.InsufficientSize, Fn);
    }

    private static unsafe IReadOnlyList<NvmlProcess> ComputeRunningProcessesV1(nint device)
    {
        var fn = NvmlLibrary.Require("nvmlDeviceGetComputeRunningProcesses");
        uint capacity = 0;
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var buffer = new ProcessInfoV1[capacity];
            var count = capacity;
            NvmlReturn code;
            fixed (ProcessInfoV1* infos = buffer)
            {
                code = NvmlNative.DeviceGetComputeRunningProcessesV1(device, &count, capacity == 0 ? null : infos);
            }

            if (code == NvmlReturn.Success)
            {
                return [.. buffer.Take((int)Math.Min(count, capacity)).Select(p => Process(p.Pid, p.UsedGpuMemory, NvmlNative.NotAttributable, NvmlNative.NotAttributable))];
            }

            if (code != NvmlReturn.InsufficientSize)
            {
                throw NvmlLibrary.Error(code, fn);
            }

            capacity = Math.Max(count, capacity) + Headroom;
        }

        throw NvmlLibrary.Error(NvmlReturn.InsufficientSize, fn);
    }

    private static NvmlProcess Process(uint pid, ulong used, uint gpuInstanceId, uint computeInstanceId) =>
        new((int)pid, used == NvmlNative.ValueNotAvailable ? -1 : (long)used, gpuInstanceId, computeInstanceId);
}
