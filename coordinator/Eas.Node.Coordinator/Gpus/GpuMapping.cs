using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Store;
using Eas.Node.Scheduler;
using Eas.Node.Spec;

namespace Eas.Node.Coordinator.Gpus;

/// <summary>
/// Converts GPU descriptions between the wire (agent reports, API views), the store and the scheduler,
/// so each of them keeps its own shape and only this class knows all three.
/// </summary>
public static class GpuMapping
{
    /// <summary>The stored form of an agent's GPU report.</summary>
    public static IReadOnlyList<GpuRecord> ToRecords(GpuInventory? inventory) =>
        inventory is null
            ? []
            : [.. inventory.Gpus.Select(g => new GpuRecord(
                g.Index,
                g.Uuid,
                g.Model,
                g.MemoryMib,
                g.Minor,
                g.ComputeCapability,
                g.MigEnabled,
                [.. g.MigDevices.Select(m => new MigDeviceRecord(m.Uuid, m.Profile, m.MemoryMib, m.SliceCount))],
                g.Healthy,
                g.HealthReason))];

    /// <summary>The node record with the GPU part of <paramref name="inventory"/> applied.</summary>
    public static NodeRecord WithInventory(NodeRecord node, GpuInventory? inventory) => node with
    {
        Gpus = ToRecords(inventory),
        GpuDriverVersion = inventory?.DriverVersion ?? "",
        CudaVersion = inventory?.CudaVersion ?? "",
        GpuUnavailableReason = inventory?.UnavailableReason ?? "",
    };

    /// <summary>True when the GPU part of <paramref name="node"/> already says what <paramref name="inventory"/> says.</summary>
    public static bool SameInventory(NodeRecord node, GpuInventory? inventory) =>
        node.Gpus.SequenceEqual(ToRecords(inventory))
        && node.GpuDriverVersion == (inventory?.DriverVersion ?? "")
        && node.CudaVersion == (inventory?.CudaVersion ?? "")
        && node.GpuUnavailableReason == (inventory?.UnavailableReason ?? "");

    /// <summary>The scheduler's view of a node's GPUs.</summary>
    public static IReadOnlyList<GpuSnapshot> ToSnapshots(IReadOnlyList<GpuRecord> gpus) =>
        [.. gpus.Select(g => new GpuSnapshot(
            g.Index,
            g.Uuid,
            g.Model,
            g.MemoryMib,
            g.Healthy,
            g.MigEnabled,
            [.. g.MigDevices.Select(m => new MigDeviceSnapshot(m.Uuid, m.Profile, m.MemoryMib, m.SliceCount))]))];

    /// <summary>What an instance of <paramref name="spec"/> asks of the GPUs; null for CPU-only services.</summary>
    public static GpuRequest? ToRequest(ServiceSpec spec) =>
        spec.UsesGpu
            ? new GpuRequest(spec.Gpu, spec.GpuMemoryMib, spec.GpuCorePercentage ?? 0, spec.GpuModel ?? "", spec.GpuDriverVersion ?? "")
            : null;

    /// <summary>The stored form of a scheduler assignment.</summary>
    public static GpuAllocationRecord? ToRecord(GpuAssignment? assignment) =>
        assignment is null
            ? null
            : new GpuAllocationRecord(
                assignment.Kind switch
                {
                    GpuAssignmentKind.Whole => GpuAllocation.WholeKind,
                    GpuAssignmentKind.Mig => GpuAllocation.MigKind,
                    _ => GpuAllocation.SharedKind,
                },
                [.. assignment.GpuUuids],
                assignment.MigUuid,
                assignment.MemoryMib,
                assignment.CorePercent);

    /// <summary>The scheduler's form of a stored allocation (so placed instances keep holding their GPUs).</summary>
    public static GpuAssignment? ToAssignment(GpuAllocationRecord? allocation) =>
        allocation is null
            ? null
            : new GpuAssignment(
                allocation.Kind switch
                {
                    GpuAllocation.WholeKind => GpuAssignmentKind.Whole,
                    GpuAllocation.MigKind => GpuAssignmentKind.Mig,
                    _ => GpuAssignmentKind.Shared,
                },
                allocation.GpuUuids,
                allocation.MigUuid,
                allocation.MemoryMib,
                allocation.CorePercent);

    /// <summary>The wire form of a stored allocation.</summary>
    public static GpuAllocation ToMessage(GpuAllocationRecord allocation)
    {
        var message = new GpuAllocation
        {
            Kind = allocation.Kind,
            MigUuid = allocation.MigUuid,
            MemoryMib = allocation.MemoryMib,
            CorePercentage = allocation.CorePercent,
        };
        message.GpuUuids.AddRange(allocation.GpuUuids);
        return message;
    }

    /// <summary>The wire form of a stored GPU (usage comes from the agent's latest report, when there is one).</summary>
    public static Gpu ToMessage(GpuRecord gpu, GpuUsage? usage)
    {
        var message = new Gpu
        {
            Index = gpu.Index,
            Uuid = gpu.Uuid,
            Model = gpu.Model,
            MemoryMib = gpu.MemoryMib,
            Minor = gpu.Minor,
            ComputeCapability = gpu.ComputeCapability,
            MigEnabled = gpu.MigEnabled,
            Healthy = gpu.Healthy,
            HealthReason = gpu.HealthReason,
            Usage = usage ?? new GpuUsage(),
        };
        message.MigDevices.AddRange(gpu.MigDevices.Select(m => new MigDevice { Uuid = m.Uuid, Profile = m.Profile, MemoryMib = m.MemoryMib, SliceCount = m.SliceCount }));
        return message;
    }

    /// <summary>" with GPU …" for events and logs: which GPUs or slice an instance got; "" without GPUs.</summary>
    public static string Describe(GpuAllocationRecord? allocation) => allocation switch
    {
        null => "",
        { Kind: GpuAllocation.WholeKind } => $" with GPU {string.Join(", ", allocation.GpuUuids)}",
        { Kind: GpuAllocation.MigKind } => $" with MIG device {allocation.MigUuid} ({allocation.MemoryMib} MiB) of GPU {allocation.GpuUuids[0]}",
        _ => $" with a {allocation.MemoryMib} MiB, {allocation.CorePercent}% slice of GPU {allocation.GpuUuids[0]}",
    };

    /// <summary>
    /// Why an instance with <paramref name="allocation"/> cannot keep running on <paramref name="node"/>'s GPUs,
    /// or null when all its GPUs (and MIG device) are there and healthy.
    /// </summary>
    public static string? LostGpuReason(GpuAllocationRecord? allocation, NodeRecord node)
    {
        if (allocation is null)
        {
            return null;
        }

        foreach (var uuid in allocation.GpuUuids)
        {
            var gpu = node.Gpus.FirstOrDefault(g => g.Uuid == uuid);
            if (gpu is null)
            {
                return $"GPU {uuid} is gone from node {node.Name}";
            }

            if (!gpu.Healthy)
            {
                var why = string.IsNullOrEmpty(gpu.HealthReason) ? "" : $" ({gpu.HealthReason})";
                return $"GPU {gpu.Index} ({uuid}) on node {node.Name} is unhealthy{why}";
            }

            if (allocation.Kind == GpuAllocation.MigKind && gpu.MigDevices.All(m => m.Uuid != allocation.MigUuid))
            {
                return $"MIG device {allocation.MigUuid} is gone from GPU {gpu.Index} on node {node.Name}";
            }
        }

        return null;
    }
}
