namespace Eas.Node.Scheduler;

/// <summary>One instance to place.</summary>
/// <param name="InstanceId">Unique instance id; must not be placed already.</param>
/// <param name="Service">The service it belongs to; replicas of one service are spread across nodes.</param>
/// <param name="CpuMillis">CPU to reserve, in thousandths of a core (≥ 0).</param>
/// <param name="MemoryMib">Memory to reserve, in MiB (≥ 0).</param>
/// <param name="HostPorts">Host ports the instance needs free on the node (1–65535, no duplicates); empty for bridged networking.</param>
/// <param name="NodeSelector">Labels a node must carry with exactly these values; null or empty matches every node.</param>
public sealed record PlacementRequest(
    string InstanceId,
    string Service,
    long CpuMillis,
    long MemoryMib,
    IReadOnlyList<int> HostPorts,
    IReadOnlyDictionary<string, string>? NodeSelector = null);

/// <summary>Where one request goes.</summary>
/// <param name="InstanceId">The request's instance id.</param>
/// <param name="Node">The chosen node.</param>
/// <param name="Score">
/// The chosen node's rank, higher is better: minus the number of instances of the same service
/// already on the node (spread), plus the share of the node's CPU and memory left free after the
/// placement (0–1, least allocated).
/// </param>
public sealed record Placement(string InstanceId, string Node, double Score);

/// <summary>A request that could not be placed, and why.</summary>
/// <param name="InstanceId">The request's instance id.</param>
/// <param name="Reason">What was missing and how many nodes were checked, for a person to act on.</param>
public sealed record PlacementFailure(string InstanceId, string Reason);

/// <summary>The scheduler's answer: placements in request order, and the requests that did not fit.</summary>
/// <param name="Placements">Placed requests, in request order.</param>
/// <param name="Failures">Requests that could not be placed, in request order.</param>
public sealed record SchedulingPlan(IReadOnlyList<Placement> Placements, IReadOnlyList<PlacementFailure> Failures);
