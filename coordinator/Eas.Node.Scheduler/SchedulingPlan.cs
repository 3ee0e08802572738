namespace Eas.Node.Scheduler;

/// <summary>
/// What GPU work one instance asks for: whole GPUs, or a slice of one GPU. All zero (and no
/// model or driver) asks for nothing, the same as no request.
/// </summary>
/// <param name="WholeGpus">More than 0: that many whole GPUs, exclusive to the instance.</param>
/// <param name="SliceMemoryMib">
/// With <paramref name="WholeGpus"/> 0 and this above 0: a slice of one GPU with this much GPU
/// memory, on a MIG device when the node has one that fits, else on a shared GPU.
/// </param>
/// <param name="CorePercent">The slice's share of the GPU's compute, 1–100; 0 when not given (counts as 0).</param>
/// <param name="Model">A case-insensitive substring the GPU model must contain, for example "H100"; "" for any model.</param>
/// <param name="DriverVersion">
/// "" for any driver, or a version prefix matched on dot boundaries against the node's driver:
/// "550" matches "550.54.15", "550.5" does not.
/// </param>
public sealed record GpuRequest(int WholeGpus, long SliceMemoryMib = 0, int CorePercent = 0, string Model = "", string DriverVersion = "");

/// <summary>How an instance holds GPU work.</summary>
public enum GpuAssignmentKind
{
    /// <summary>Whole GPUs, exclusive to the instance.</summary>
    Whole,

    /// <summary>A memory and compute share of a GPU that other slices share too (MPS).</summary>
    Shared,

    /// <summary>One MIG device of a MIG-enabled GPU.</summary>
    Mig,
}

/// <summary>
/// Where an instance's GPU work went. Equality compares <see cref="GpuUuids"/> item by item, so two
/// plans made from the same input compare equal.
/// </summary>
/// <param name="Kind">Whole GPUs, a shared GPU or a MIG device.</param>
/// <param name="GpuUuids">The physical GPUs: for whole GPUs all of them (lowest index first); for shared or MIG the one parent GPU.</param>
/// <param name="MigUuid">The MIG device for <see cref="GpuAssignmentKind.Mig"/>, else "".</param>
/// <param name="MemoryMib">
/// GPU memory: for shared the slice as requested; for MIG the device's memory; for whole the GPUs' total memory.
/// </param>
/// <param name="CorePercent">
/// Compute share: for shared as requested; for MIG the device's slice count × 100 / 7 rounded down; for whole 100.
/// </param>
public sealed record GpuAssignment(GpuAssignmentKind Kind, IReadOnlyList<string> GpuUuids, string MigUuid, long MemoryMib, int CorePercent)
{
    /// <summary>True when both assign the same kind, GPUs (in order), MIG device, memory and compute share.</summary>
    public bool Equals(GpuAssignment? other) =>
        other is not null
        && Kind == other.Kind
        && string.Equals(MigUuid, other.MigUuid, StringComparison.Ordinal)
        && MemoryMib == other.MemoryMib
        && CorePercent == other.CorePercent
        && GpuUuids.SequenceEqual(other.GpuUuids, StringComparer.Ordinal);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Kind);
        hash.Add(MigUuid, StringComparer.Ordinal);
        hash.Add(MemoryMib);
        hash.Add(CorePercent);
        foreach (var uuid in GpuUuids)
        {
            hash.Add(uuid, StringComparer.Ordinal);
        }

        return hash.ToHashCode();
    }
}

/// <summary>One instance to place.</summary>
/// <param name="InstanceId">Unique instance id; must not be placed already.</param>
/// <param name="Service">The service it belongs to; replicas of one service are spread across nodes.</param>
/// <param name="CpuMillis">CPU to reserve, in thousandths of a core (≥ 0).</param>
/// <param name="MemoryMib">Memory to reserve, in MiB (≥ 0).</param>
/// <param name="HostPorts">Host ports the instance needs free on the node (1–65535, no duplicates); empty for bridged networking.</param>
/// <param name="NodeSelector">Labels a node must carry with exactly these values; null or empty matches every node.</param>
/// <param name="Gpu">The GPU work it needs; null for none.</param>
public sealed record PlacementRequest(
    string InstanceId,
    string Service,
    long CpuMillis,
    long MemoryMib,
    IReadOnlyList<int> HostPorts,
    IReadOnlyDictionary<string, string>? NodeSelector = null,
    GpuRequest? Gpu = null);

/// <summary>Where one request goes.</summary>
/// <param name="InstanceId">The request's instance id.</param>
/// <param name="Node">The chosen node.</param>
/// <param name="Score">
/// The chosen node's rank, higher is better, the sum of: GPU packing (0–1; 0 for requests without
/// GPU work; for a slice 1 when it lands on a MIG device or an already shared GPU, 0 on a fresh GPU;
/// for whole GPUs 1 / (1 + the node's whole GPUs left free afterwards)), minus the number of instances
/// of the same service already on the node (spread), and the share of the node's CPU and memory left
/// free after the placement (0–1, least allocated).
/// </param>
/// <param name="Gpu">The GPU work it got; null when it asked for none.</param>
public sealed record Placement(string InstanceId, string Node, double Score, GpuAssignment? Gpu = null);

/// <summary>A request that could not be placed, and why.</summary>
/// <param name="InstanceId">The request's instance id.</param>
/// <param name="Reason">What was missing and how many nodes were checked, for a person to act on.</param>
public sealed record PlacementFailure(string InstanceId, string Reason);

/// <summary>The scheduler's answer: placements in request order, and the requests that did not fit.</summary>
/// <param name="Placements">Placed requests, in request order.</param>
/// <param name="Failures">Requests that could not be placed, in request order.</param>
public sealed record SchedulingPlan(IReadOnlyList<Placement> Placements, IReadOnlyList<PlacementFailure> Failures);
