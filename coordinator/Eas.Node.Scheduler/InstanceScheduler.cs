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
    /// outside 1–65535 or repeated, an instance id that is already placed, a GPU request with
    /// negative numbers, a core percentage outside 0–100, whole GPUs together with a slice or a core
    /// percentage, a core percentage without slice memory, or a model or driver without GPU work),
    /// becomes a <see cref="PlacementFailure"/>; the others still get placed.
    /// </summary>
    /// <exception cref="ArgumentException">The snapshot names two nodes alike.</exception>
    public SchedulingPlan Schedule(ClusterSnapshot snapshot, IReadOnlyList<PlacementRequest> requests)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(requests);

        var cluster = new ClusterState(snapshot, requests.Select(r => r.Service));
        var placedOn = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var instance in snapshot.Instances)
        {
            placedOn.TryAdd(instance.InstanceId, instance.Node);
        }

        var bounds = _stack.NewBoundsBuffer(cluster.Nodes.Length);
        var placements = new List<Placement>(requests.Count);
        var failures = new List<PlacementFailure>();

        // Placements only ever take resources, so a request shape that fit nowhere fits nowhere for
        // the rest of the plan: later requests of that shape skip the search, and reuse the reason
        // while no placement has changed the cluster since it was worded.
        var failed = new Dictionary<RequestShape, (int Placements, string Reason)>();
        foreach (var request in requests)
        {
            if (Malformed(request, placedOn) is { } problem)
            {
                failures.Add(new PlacementFailure(request.InstanceId, problem));
                continue;
            }

            var prepared = cluster.Prepare(request);
            var shape = RequestShape.Of(request);
            if (failed.TryGetValue(shape, out var known))
            {
                var reason = known.Placements == placements.Count ? known.Reason : _stack.DescribeFailure(cluster.Nodes, prepared);
                failed[shape] = (placements.Count, reason);
                failures.Add(new PlacementFailure(request.InstanceId, reason));
                continue;
            }

            var selection = _stack.Select(cluster.Nodes, prepared, bounds);
            if (selection.Node is { } chosen)
            {
                var gpu = cluster.Place(chosen, prepared, selection.Slot);
                placedOn[request.InstanceId] = chosen.Name;
                placements.Add(new Placement(request.InstanceId, chosen.Name, selection.Score, gpu));
            }
            else
            {
                failed[shape] = (placements.Count, selection.FailureReason!);
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

        if (request.HostPorts.Count > 0)
        {
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
        }

        return request.Gpu is { } gpu ? MalformedGpu(gpu) : null;
    }

    private static string? MalformedGpu(GpuRequest gpu)
    {
        if (gpu.WholeGpus < 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"invalid GPU request: {gpu.WholeGpus} GPUs; the GPU count must be 0 or more");
        }

        if (gpu.SliceMemoryMib < 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"invalid GPU request: {gpu.SliceMemoryMib} MiB GPU memory; the slice's GPU memory must be 0 or more");
        }

        if (gpu.CorePercent is < 0 or > 100)
        {
            return string.Create(CultureInfo.InvariantCulture, $"invalid GPU request: {gpu.CorePercent}% GPU compute; the core percentage must be 0-100");
        }

        if (gpu.WholeGpus > 0 && gpu.SliceMemoryMib > 0)
        {
            return string.Create(
                CultureInfo.InvariantCulture,
                $"invalid GPU request: {gpu.WholeGpus} whole GPUs and a {gpu.SliceMemoryMib} MiB slice; ask for whole GPUs or for a slice (GPU memory), not both");
        }

        if (gpu.WholeGpus > 0 && gpu.CorePercent > 0)
        {
            return string.Create(
                CultureInfo.InvariantCulture,
                $"invalid GPU request: {gpu.CorePercent}% GPU compute with {gpu.WholeGpus} whole GPUs; whole GPUs always get 100%, so drop the core percentage or ask for a slice (GPU memory) instead");
        }

        if (gpu.WholeGpus == 0 && gpu.SliceMemoryMib == 0 && gpu.CorePercent > 0)
        {
            return string.Create(
                CultureInfo.InvariantCulture,
                $"invalid GPU request: {gpu.CorePercent}% GPU compute without GPU memory; give the slice's GPU memory too, or ask for whole GPUs");
        }

        if (gpu.WholeGpus == 0 && gpu.SliceMemoryMib == 0 && (!string.IsNullOrEmpty(gpu.Model) || !string.IsNullOrEmpty(gpu.DriverVersion)))
        {
            return "invalid GPU request: a GPU model or driver but no GPUs; ask for whole GPUs or a slice's GPU memory, or drop the model and driver";
        }

        return null;
    }

    /// <summary>Everything about a request that decides where it fits (not its id or service).</summary>
    private readonly record struct RequestShape(long CpuMillis, long MemoryMib, GpuRequest? Gpu, string Ports, string Selector)
    {
        public static RequestShape Of(PlacementRequest request) => new(
            request.CpuMillis,
            request.MemoryMib,
            request.Gpu,
            request.HostPorts.Count == 0 ? "" : string.Join(',', request.HostPorts),
            request.NodeSelector is not { Count: > 0 } selector
                ? ""
                : string.Join('\n', selector.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")));
    }
}
