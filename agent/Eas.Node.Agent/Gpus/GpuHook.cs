using System.Globalization;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Runtime;

namespace Eas.Node.Agent.Gpus;

/// <summary>
/// Gives an instance exactly the GPU work it was assigned: the device nodes of its GPUs (or MIG device),
/// CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES by UUID, and on a shared GPU the MPS daemon's pipe
/// directory plus the per-client limits CUDA_MPS_PINNED_DEVICE_MEM_LIMIT and CUDA_MPS_ACTIVE_THREAD_PERCENTAGE.
/// MPS limits hold per process; <see cref="GpuWatchdog"/> enforces the slice for the instance as a whole.
/// </summary>
public sealed class GpuHook(GpuMonitor monitor, MpsDaemons mps) : IPrestartHook
{
    /// <summary>Where shared instances see their GPU's MPS pipe directory.</summary>
    public const string MpsPipeInContainer = "/run/nvidia-mps";

    /// <inheritdoc/>
    public string Name => "gpu";

    /// <inheritdoc/>
    public async Task PrestartAsync(InstanceContext context, CancellationToken cancellationToken)
    {
        context.Devices.Clear();
        context.PlatformEnvironment.Clear();
        if (context.Assignment.Spec?.Gpu is not { } allocation)
        {
            return;
        }

        context.Devices.AddRange(GpuDeviceNodes.For(allocation, monitor.Find));
        foreach (var (key, value) in GpuDeviceNodes.Environment(allocation))
        {
            context.PlatformEnvironment[key] = value;
        }

        if (!allocation.IsShared)
        {
            return;
        }

        var gpu = allocation.GpuUuids[0];
        try
        {
            await mps.EnsureAsync(gpu, cancellationToken);
        }
        catch (InvalidOperationException ex)
        {
            throw new InstanceFailedException(ex.Message);
        }

        context.Mounts.Add(OciMount.Bind(mps.PipeDirectory(gpu), MpsPipeInContainer, readOnly: false));
        context.PlatformEnvironment["CUDA_MPS_PIPE_DIRECTORY"] = MpsPipeInContainer;

        // The container sees one GPU, so its CUDA ordinal is 0.
        context.PlatformEnvironment["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"] = string.Create(CultureInfo.InvariantCulture, $"0={allocation.MemoryMib}M");
        if (allocation.CorePercentage is > 0 and < 100)
        {
            context.PlatformEnvironment["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"] = allocation.CorePercentage.ToString(CultureInfo.InvariantCulture);
        }
    }
}
