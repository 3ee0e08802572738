namespace Eas.Node.Scheduler;

/// <summary>One node as the scheduler sees it: its allocatable capacity, labels and whether it takes new work.</summary>
/// <param name="Name">Unique node name; also the final tie-break between equally ranked nodes.</param>
/// <param name="CpuMillis">Allocatable CPU in thousandths of a core.</param>
/// <param name="MemoryMib">Allocatable memory in MiB.</param>
/// <param name="Labels">Labels matched by <see cref="PlacementRequest.NodeSelector"/>.</param>
/// <param name="Schedulable">False for cordoned, draining or down nodes: they keep what they run but get nothing new.</param>
/// <param name="Gpus">The node's physical GPUs; null or empty for a node without GPUs.</param>
/// <param name="GpuDriverVersion">The NVIDIA driver version the node reports (for example "550.54.15"); "" when unknown.</param>
public sealed record NodeSnapshot(
    string Name,
    long CpuMillis,
    long MemoryMib,
    IReadOnlyDictionary<string, string> Labels,
    bool Schedulable,
    IReadOnlyList<GpuSnapshot>? Gpus = null,
    string GpuDriverVersion = "");

/// <summary>
/// One physical GPU. A MIG-enabled GPU is split into MIG devices and only those are allocatable:
/// it is never handed out whole, and never shared.
/// </summary>
/// <param name="Index">The GPU's index on its node (NVML index); lower indexes are taken first.</param>
/// <param name="Uuid">The GPU's UUID ("GPU-…"), unique in the cluster.</param>
/// <param name="Model">The model name as NVML reports it, for example "NVIDIA H100 80GB HBM3".</param>
/// <param name="MemoryMib">The GPU's memory in MiB.</param>
/// <param name="Healthy">False after XID critical errors or a lost GPU: it gets no new work.</param>
/// <param name="MigEnabled">True when the GPU runs in MIG mode; only <paramref name="MigDevices"/> are allocatable.</param>
/// <param name="MigDevices">The MIG devices of a MIG-enabled GPU; ignored when <paramref name="MigEnabled"/> is false.</param>
public sealed record GpuSnapshot(
    int Index,
    string Uuid,
    string Model,
    long MemoryMib,
    bool Healthy,
    bool MigEnabled = false,
    IReadOnlyList<MigDeviceSnapshot>? MigDevices = null);

/// <summary>One MIG device (a GPU instance with its compute instance).</summary>
/// <param name="Uuid">The MIG device's UUID ("MIG-…"), unique in the cluster.</param>
/// <param name="Profile">The profile name, for example "3g.40gb".</param>
/// <param name="MemoryMib">The device's memory in MiB.</param>
/// <param name="SliceCount">Compute slices out of 7 (1g = 1, 2g = 2, 3g = 3, 4g = 4, 7g = 7).</param>
public sealed record MigDeviceSnapshot(string Uuid, string Profile, long MemoryMib, int SliceCount);

/// <summary>An instance that already holds resources on a node.</summary>
/// <param name="InstanceId">Unique instance id.</param>
/// <param name="Service">The service the instance belongs to (used to spread replicas).</param>
/// <param name="Node">The node it is placed on; instances on nodes missing from the snapshot are ignored.</param>
/// <param name="CpuMillis">CPU it reserves, in thousandths of a core.</param>
/// <param name="MemoryMib">Memory it reserves, in MiB.</param>
/// <param name="HostPorts">Host ports it holds (host networking); empty for bridged instances.</param>
/// <param name="Gpu">
/// The GPU work it holds, as the plan that placed it assigned it; null for none. It counts against
/// the named GPUs (or MIG device) of <paramref name="Node"/> even when they are unhealthy; names the
/// node no longer reports are ignored.
/// </param>
public sealed record PlacedInstance(
    string InstanceId,
    string Service,
    string Node,
    long CpuMillis,
    long MemoryMib,
    IReadOnlyList<int> HostPorts,
    GpuAssignment? Gpu = null);

/// <summary>An immutable view of the cluster that one plan is computed from.</summary>
/// <param name="Nodes">Every known node, schedulable or not; names are unique.</param>
/// <param name="Instances">Every instance that holds resources.</param>
public sealed record ClusterSnapshot(IReadOnlyList<NodeSnapshot> Nodes, IReadOnlyList<PlacedInstance> Instances);
