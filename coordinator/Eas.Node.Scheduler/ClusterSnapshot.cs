namespace Eas.Node.Scheduler;

/// <summary>One node as the scheduler sees it: its allocatable capacity, labels and whether it takes new work.</summary>
/// <param name="Name">Unique node name; also the final tie-break between equally ranked nodes.</param>
/// <param name="CpuMillis">Allocatable CPU in thousandths of a core.</param>
/// <param name="MemoryMib">Allocatable memory in MiB.</param>
/// <param name="Labels">Labels matched by <see cref="PlacementRequest.NodeSelector"/>.</param>
/// <param name="Schedulable">False for cordoned, draining or down nodes: they keep what they run but get nothing new.</param>
public sealed record NodeSnapshot(string Name, long CpuMillis, long MemoryMib, IReadOnlyDictionary<string, string> Labels, bool Schedulable);

/// <summary>An instance that already holds resources on a node.</summary>
/// <param name="InstanceId">Unique instance id.</param>
/// <param name="Service">The service the instance belongs to (used to spread replicas).</param>
/// <param name="Node">The node it is placed on; instances on nodes missing from the snapshot are ignored.</param>
/// <param name="CpuMillis">CPU it reserves, in thousandths of a core.</param>
/// <param name="MemoryMib">Memory it reserves, in MiB.</param>
/// <param name="HostPorts">Host ports it holds (host networking); empty for bridged instances.</param>
public sealed record PlacedInstance(string InstanceId, string Service, string Node, long CpuMillis, long MemoryMib, IReadOnlyList<int> HostPorts);

/// <summary>An immutable view of the cluster that one plan is computed from.</summary>
/// <param name="Nodes">Every known node, schedulable or not; names are unique.</param>
/// <param name="Instances">Every instance that holds resources.</param>
public sealed record ClusterSnapshot(IReadOnlyList<NodeSnapshot> Nodes, IReadOnlyList<PlacedInstance> Instances);
