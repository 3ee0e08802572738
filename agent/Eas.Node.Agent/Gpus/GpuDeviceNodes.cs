using System.Globalization;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Runtime;
using Eas.Node.Contracts.V1;

namespace Eas.Node.Agent.Gpus;

/// <summary>
/// The character devices an instance needs for its GPUs: <c>/dev/nvidiaN</c> of each assigned GPU,
/// <c>/dev/nvidiactl</c>, <c>/dev/nvidia-uvm</c> and <c>-tools</c> (dynamic major from /proc/devices), and for a
/// MIG device its GPU-instance and compute-instance access capabilities under <c>/dev/nvidia-caps</c>.
/// Nothing else of the GPU driver is visible: the OCI config lists exactly these and the device cgroup
/// allows exactly these (runc writes devices.allow on cgroup v1 and loads a BPF device program on v2).
/// </summary>
public static class GpuDeviceNodes
{
    /// <summary>The NVIDIA driver's character major (/dev/nvidiaN and /dev/nvidiactl).</summary>
    public const long NvidiaMajor = 195;

    /// <summary>/dev/nvidiactl's minor.</summary>
    public const long ControlMinor = 255;

    /// <summary>The device nodes for <paramref name="allocation"/>; <paramref name="gpus"/> resolves UUIDs to minors.</summary>
    /// <exception cref="InstanceFailedException">An assigned GPU or MIG device is not on this node.</exception>
    public static IReadOnlyList<OciDevice> For(
        GpuAllocation allocation,
        Func<string, GpuDescription?> gpus,
        string procDevices = "/proc/devices",
        string migMinors = "/proc/driver/nvidia-caps/mig-minors")
    {
        var devices = new List<OciDevice>();
        foreach (var uuid in allocation.GpuUuids)
        {
            var gpu = gpus(uuid) ?? throw new InstanceFailedException($"GPU {uuid} was assigned to this instance but is not on this node; the coordinator will place it again");
            devices.Add(new OciDevice($"/dev/nvidia{gpu.Minor}", NvidiaMajor, gpu.Minor));
            if (allocation.IsMig)
            {
                var mig = gpu.MigDevices.FirstOrDefault(m => m.Uuid == allocation.MigUuid)
                    ?? throw new InstanceFailedException($"MIG device {allocation.MigUuid} was assigned to this instance but GPU {gpu.Index} has no such device; the coordinator will place it again");
                devices.AddRange(MigCapabilities(gpu.Minor, mig, procDevices, migMinors));
            }
        }

        devices.Add(new OciDevice("/dev/nvidiactl", NvidiaMajor, ControlMinor));
        if (DynamicMajor(procDevices, "nvidia-uvm") is { } uvm)
        {
            devices.Add(new OciDevice("/dev/nvidia-uvm", uvm, 0));
            devices.Add(new OciDevice("/dev/nvidia-uvm-tools", uvm, 1));
        }

        return devices;
    }

    /// <summary>The environment that makes CUDA (and the NVIDIA container tools) see exactly the assigned devices.</summary>
    public static IReadOnlyDictionary<string, string> Environment(GpuAllocation allocation)
    {
        var visible = string.Join(',', allocation.VisibleUuids);
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["CUDA_VISIBLE_DEVICES"] = visible,
            ["NVIDIA_VISIBLE_DEVICES"] = visible,
            ["EAS_GPU_MEMORY_MIB"] = allocation.MemoryMib.ToString(CultureInfo.InvariantCulture),
            ["EAS_GPU_CORE_PERCENTAGE"] = allocation.CorePercentage.ToString(CultureInfo.InvariantCulture),
        };
    }

    /// <summary>The major of a dynamically numbered character driver in /proc/devices, or null when it is not loaded.</summary>
    internal static long? DynamicMajor(string procDevices, string driver)
    {
        if (!File.Exists(procDevices))
        {
            return null;
        }

        var inCharacter = false;
        foreach (var line in File.ReadLines(procDevices))
        {
            if (line.StartsWith("Character devices", StringComparison.Ordinal))
            {
                inCharacter = true;
                continue;
            }

            if (line.StartsWith("Block devices", StringComparison.Ordinal))
            {
                break;
            }

            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (inCharacter && parts.Length == 2 && parts[1] == driver && long.TryParse(parts[0], CultureInfo.InvariantCulture, out var major))
            {
                return major;
            }
        }

        return null;
    }

    // /proc/driver/nvidia-caps/mig-minors maps "gpu<minor>/gi<id>/access <capMinor>" and ".../ci<id>/access <capMinor>".
    private static IEnumerable<OciDevice> MigCapabilities(int gpuMinor, MigDeviceDescription mig, string procDevices, string migMinors)
    {
        if (DynamicMajor(procDevices, "nvidia-caps") is not { } major || !File.Exists(migMinors))
        {
            yield break;
        }

        var wanted = new[]
        {
            string.Create(CultureInfo.InvariantCulture, $"gpu{gpuMinor}/gi{mig.GpuInstanceId}/access"),
            string.Create(CultureInfo.InvariantCulture, $"gpu{gpuMinor}/gi{mig.GpuInstanceId}/ci{mig.ComputeInstanceId}/access"),
        };
        foreach (var line in File.ReadLines(migMinors))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && wanted.Contains(parts[0]) && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var minor))
            {
                yield return new OciDevice(string.Create(CultureInfo.InvariantCulture, $"/dev/nvidia-caps/nvidia-cap{minor}"), major, minor);
            }
        }
    }
}
