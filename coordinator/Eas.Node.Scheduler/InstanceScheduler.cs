using System.Globalization;

namespace Eas.Node.Scheduler;

/// <summary>
/// The pure scheduler: a cluster snapshot and a list of requests in, a plan out. No I/O, no clock,
/// no randomness: the same input always gives the same plan, so the coordinator can test, replay
/// and reject plans made from stale snapshots.
/// </summary>
public sealed class InstanceScheduler
{
    private readonly SelectionStack _stack = SelectionStack.Default;

    /// <summary>
    /// Places <paramref name="requests"/> in order; each request sees the placements made for the
    /// earlier ones. A request that cannot be placed, or is malformed (negative resources, a port
    /// outside 1–65535 or repeated, an instance id that is already placed), becomes a
    /// <see cref="PlacementFailure"/>; the others still get placed.
    /// </summary>
    /// <exception cref="ArgumentException">The snapshot names two nodes alike.</exception>
    public SchedulingPlan Schedule(ClusterSnapshot snapshot, IReadOnlyList<PlacementRequest> requests)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(requests);

        var nodes = snapshot.Nodes
            .OrderBy(n => n.Name, StringComparer.Ordinal)
            .Select(n => new NodeState(n))
            .ToList();
        var byName = new Dictionary<string, NodeState>(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            if (!byName.TryAdd(node.Name, node))
            {
                throw new ArgumentException($"the snapshot lists node '{node.Name}' twice; node names must be unique", nameof(snapshot));
            }
        }

        var placedOn = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var instance in snapshot.Instances)
        {
            placedOn.TryAdd(instance.InstanceId, instance.Node);
            if (byName.TryGetValue(instance.Node, out var node))
            {
                node.Add(instance.Service, instance.CpuMillis, instance.MemoryMib, instance.HostPorts);
            }
        }

        var placements = new List<Placement>();
        var failures = new List<PlacementFailure>();
        foreach (var request in requests)
        {
            if (Malformed(request, placedOn) is { } problem)
            {
                failures.Add(new PlacementFailure(request.InstanceId, problem));
                continue;
            }

            var selection = _stack.Select(nodes, request);
            if (selection.Node is { } chosen)
            {
                chosen.Add(request.Service, request.CpuMillis, request.MemoryMib, request.HostPorts);
                placedOn[request.InstanceId] = chosen.Name;
                placements.Add(new Placement(request.InstanceId, chosen.Name, selection.Score));
            }
            else
            {
                failures.Add(new PlacementFailure(request.InstanceId, selection.FailureReason!));
            }
        }

        return new SchedulingPlan(placements, failures);
    }

    private static string? Malformed(PlacementRequest request, Dictionary<string, string> placedOn)
    {
        if (placedOn.TryGetValue(request.InstanceId, out var node))
        {
            return $"instance {request.InstanceId} is already placed on node {node}; give each instance a new id";
        }

        if (request.CpuMillis < 0 || request.MemoryMib < 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"invalid request: {request.CpuMillis}m CPU and {request.MemoryMib} MiB memory; both must be 0 or more");
        }

        var seen = new HashSet<int>();
        foreach (var port in request.HostPorts)
        {
            if (port is < 1 or > 65535)
            {
                return string.Create(CultureInfo.InvariantCulture, $"invalid request: host port {port} is outside 1-65535");
            }

            if (!seen.Add(port))
            {
                return string.Create(CultureInfo.InvariantCulture, $"invalid request: host port {port} is listed twice");
            }
        }

        return null;
    }
}
