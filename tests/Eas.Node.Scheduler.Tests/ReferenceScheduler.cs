namespace Eas.Node.Scheduler.Tests;

/// <summary>
/// The placement rules written the plain way — every node checked and ranked for every request,
/// no bounds, no caches, no summaries — to compare the real scheduler against: its shortcuts must
/// never change where a request goes. Knows only well-formed requests and says nothing about why a
/// request failed.
/// </summary>
internal static class ReferenceScheduler
{
    public static List<(string InstanceId, string? Node, GpuAssignment? Gpu)> Schedule(ClusterSnapshot snapshot, IReadOnlyList<PlacementRequest> requests)
    {
        var nodes = snapshot.Nodes.OrderBy(n => n.Name, StringComparer.Ordinal).Select(n => new Node(n)).ToList();
        foreach (var instance in snapshot.Instances)
        {
            nodes.Find(n => n.Snapshot.Name == instance.Node)?.Hold(instance.Service, instance.CpuMillis, instance.MemoryMib, instance.HostPorts, instance.Gpu);
        }

        var result = new List<(string, string?, GpuAssignment?)>();
        foreach (var request in requests)
        {
            var gpu = request.Gpu is { WholeGpus: > 0 } or { SliceMemoryMib: > 0 } ? request.Gpu : null;
            var best = nodes
                .Select(n => (Node: n, Fit: n.Fit(request, gpu)))
                .Where(c => c.Fit is not null)
                .Select(c => (c.Node, c.Fit!.Value.Assignment, Scores: new[] { c.Fit.Value.Packing, -c.Node.InstancesOf(request.Service), c.Node.LeastAllocated(request) }))
                .Aggregate(((Node Node, GpuAssignment? Assignment, double[] Scores)?)null, (acc, c) => acc is null || Better(c.Scores, acc.Value.Scores) ? c : acc);
            if (best is { } chosen)
            {
                chosen.Node.Hold(request.Service, request.CpuMillis, request.MemoryMib, request.HostPorts, chosen.Assignment);
                result.Add((request.InstanceId, chosen.Node.Snapshot.Name, chosen.Assignment));
            }
            else
            {
                result.Add((request.InstanceId, null, null));
            }
        }

        return result;
    }

    private static bool Better(double[] scores, double[] best)
    {
        for (var i = 0; i < scores.Length; i++)
        {
            if (scores[i] != best[i])
            {
                return scores[i] > best[i];
            }
        }

        return false;
    }

    private sealed class Node(NodeSnapshot snapshot)
    {
        private readonly List<GpuSnapshot> _gpus = [.. (snapshot.Gpus ?? []).OrderBy(g => g.Index).ThenBy(g => g.Uuid, StringComparer.Ordinal)];
        private readonly Dictionary<string, (int Whole, int Slices, long Memory, int Core)> _held = new(StringComparer.Ordinal);
        private readonly HashSet<string> _takenMigs = new(StringComparer.Ordinal);
        private readonly HashSet<int> _ports = [];
        private readonly Dictionary<string, int> _services = new(StringComparer.Ordinal);
        private long _cpu;
        private long _memory;

        public NodeSnapshot Snapshot => snapshot;

        public int InstancesOf(string service) => _services.GetValueOrDefault(service);

        public double LeastAllocated(PlacementRequest request) =>
            (Share(snapshot.CpuMillis, snapshot.CpuMillis - _cpu - request.CpuMillis) + Share(snapshot.MemoryMib, snapshot.MemoryMib - _memory - request.MemoryMib)) / 2;

        public void Hold(string service, long cpu, long memory, IReadOnlyList<int> ports, GpuAssignment? gpu)
        {
            _cpu += cpu;
            _memory += memory;
            _ports.UnionWith(ports);
            _services[service] = InstancesOf(service) + 1;
            switch (gpu?.Kind)
            {
                case GpuAssignmentKind.Whole:
                    foreach (var uuid in gpu.GpuUuids.Where(u => _gpus.Any(g => g.Uuid == u)))
                    {
                        var held = _held.GetValueOrDefault(uuid);
                        _held[uuid] = held with { Whole = held.Whole + 1 };
                    }

                    break;
                case GpuAssignmentKind.Shared when _gpus.Any(g => g.Uuid == gpu.GpuUuids[0]):
                    var h = _held.GetValueOrDefault(gpu.GpuUuids[0]);
                    _held[gpu.GpuUuids[0]] = (h.Whole, h.Slices + 1, h.Memory + gpu.MemoryMib, h.Core + gpu.CorePercent);
                    break;
                case GpuAssignmentKind.Mig:
                    _takenMigs.Add(gpu.MigUuid);
                    break;
                default:
                    break;
            }
        }

        /// <summary>Null when the request does not fit; else the GPU work it would get and the GPU packing score.</summary>
        public (GpuAssignment? Assignment, double Packing)? Fit(PlacementRequest request, GpuRequest? gpu)
        {
            if (!snapshot.Schedulable
                || (request.NodeSelector ?? new Dictionary<string, string>()).Any(l => !snapshot.Labels.TryGetValue(l.Key, out var v) || v != l.Value)
                || snapshot.CpuMillis - _cpu < request.CpuMillis
                || snapshot.MemoryMib - _memory < request.MemoryMib
                || request.HostPorts.Any(_ports.Contains))
            {
                return null;
            }

            if (gpu is null)
            {
                return (null, 0);
            }

            var driver = snapshot.GpuDriverVersion ?? "";
            if (gpu.DriverVersion.Length > 0 && !(driver == gpu.DriverVersion || driver.StartsWith(gpu.DriverVersion + ".", StringComparison.Ordinal)))
            {
                return null;
            }

            var matching = _gpus.Where(g => g.Model.Contains(gpu.Model, StringComparison.OrdinalIgnoreCase) && g.Healthy).ToList();
            if (gpu.WholeGpus > 0)
            {
                var free = matching.Where(IsFreeWhole).Take(gpu.WholeGpus).ToList();
                if (free.Count < gpu.WholeGpus)
                {
                    return null;
                }

                var freeAfter = _gpus.Count(g => g.Healthy && IsFreeWhole(g)) - gpu.WholeGpus;
                return (new GpuAssignment(GpuAssignmentKind.Whole, free.Select(g => g.Uuid).ToList(), "", free.Sum(g => g.MemoryMib), 100), 1.0 / (1 + freeAfter));
            }

            var mig = matching
                .Where(g => g.MigEnabled && _held.GetValueOrDefault(g.Uuid) is { Whole: 0, Slices: 0 })
                .SelectMany(g => (g.MigDevices ?? []).Select(d => (Gpu: g, Device: d, Core: Math.Clamp(d.SliceCount, 0, 7) * 100 / 7)))
                .Where(m => !_takenMigs.Contains(m.Device.Uuid) && m.Device.MemoryMib >= gpu.SliceMemoryMib && m.Core >= gpu.CorePercent)
                .OrderBy(m => m.Device.MemoryMib).ThenBy(m => m.Device.SliceCount).ThenBy(m => m.Device.Uuid, StringComparer.Ordinal)
                .Select(m => (m.Gpu, m.Device, m.Core))
                .FirstOrDefault();
            if (mig.Device is not null)
            {
                return (new GpuAssignment(GpuAssignmentKind.Mig, [mig.Gpu.Uuid], mig.Device.Uuid, mig.Device.MemoryMib, mig.Core), 1);
            }

            var shared = matching
                .Where(g => !g.MigEnabled && _held.GetValueOrDefault(g.Uuid).Whole == 0)
                .Where(g => g.MemoryMib - _held.GetValueOrDefault(g.Uuid).Memory >= gpu.SliceMemoryMib && 100 - _held.GetValueOrDefault(g.Uuid).Core >= gpu.CorePercent)
                .OrderByDescending(g => _held.GetValueOrDefault(g.Uuid).Slices > 0)
                .ThenByDescending(g => _held.GetValueOrDefault(g.Uuid).Memory)
                .FirstOrDefault();
            return shared is null
                ? null
                : (new GpuAssignment(GpuAssignmentKind.Shared, [shared.Uuid], "", gpu.SliceMemoryMib, gpu.CorePercent), _held.GetValueOrDefault(shared.Uuid).Slices > 0 ? 1 : 0);
        }

        private static double Share(long capacity, long freeAfter) => capacity <= 0 ? 0 : Math.Clamp((double)freeAfter / capacity, 0, 1);

        private bool IsFreeWhole(GpuSnapshot gpu) => !gpu.MigEnabled && _held.GetValueOrDefault(gpu.Uuid) is { Whole: 0, Slices: 0 };
    }
}
