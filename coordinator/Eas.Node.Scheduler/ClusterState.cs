namespace Eas.Node.Scheduler;

/// <summary>
/// The cluster while one plan is being made: the nodes in name order with what they hold, spread
/// counts for the services the requests name, and per-cluster caches of GPU model and driver
/// filters. Built once per <see cref="InstanceScheduler.Schedule"/> call; placements update it.
/// </summary>
internal sealed class ClusterState
{
    private readonly Dictionary<string, int[]?> _spread;
    private readonly Dictionary<string, ModelFilter> _models = new(StringComparer.Ordinal);
    private readonly Dictionary<string, bool[]> _drivers = new(StringComparer.Ordinal);
    private readonly int _gpuCount;

    /// <param name="snapshot">The cluster.</param>
    /// <param name="requestedServices">Services whose spread counts are kept (the requests' services; others are never ranked).</param>
    /// <exception cref="ArgumentException">The snapshot names two nodes alike.</exception>
    public ClusterState(ClusterSnapshot snapshot, IEnumerable<string> requestedServices)
    {
        var ordered = snapshot.Nodes.OrderBy(n => n.Name, StringComparer.Ordinal).ToList();
        Nodes = new NodeState[ordered.Count];
        var byName = new Dictionary<string, NodeState>(ordered.Count, StringComparer.Ordinal);
        for (var i = 0; i < ordered.Count; i++)
        {
            var node = new NodeState(ordered[i], i, _gpuCount);
            if (!byName.TryAdd(node.Name, node))
            {
                throw new ArgumentException($"the snapshot lists node '{node.Name}' twice; node names must be unique", nameof(snapshot));
            }

            Nodes[i] = node;
            _gpuCount += node.Gpus.Length;
        }

        _spread = new Dictionary<string, int[]?>(StringComparer.Ordinal);
        foreach (var service in requestedServices)
        {
            _spread.TryAdd(service, null);
        }

        foreach (var instance in snapshot.Instances)
        {
            if (byName.TryGetValue(instance.Node, out var node))
            {
                Hold(node, instance.Service, instance.CpuMillis, instance.MemoryMib, instance.HostPorts);
                if (instance.Gpu is { } gpu)
                {
                    GpuFit.Hold(node, gpu);
                }
            }
        }
    }

    /// <summary>Every node, in name order (so that the first of equally ranked nodes is the tie-break winner).</summary>
    public NodeState[] Nodes { get; }

    /// <summary>Works out what checkers and rankers need for <paramref name="request"/> (a well-formed one).</summary>
    public PreparedRequest Prepare(PlacementRequest request)
    {
        _spread.TryGetValue(request.Service, out var counts);
        var gpu = request.Gpu;
        var model = gpu is null ? ModelFilter.Any : ModelFor(gpu.Model ?? "");
        var driver = gpu is null || string.IsNullOrEmpty(gpu.DriverVersion) ? null : DriverFor(gpu.DriverVersion);
        return new PreparedRequest(request, counts, model, driver);
    }

    /// <summary>Places <paramref name="request"/> on <paramref name="node"/>; returns the GPU work it got.</summary>
    /// <param name="node">The chosen node.</param>
    /// <param name="request">The request.</param>
    /// <param name="slot">For a slice, the slot the selection chose.</param>
    public GpuAssignment? Place(NodeState node, PreparedRequest request, GpuSlot slot)
    {
        Hold(node, request.Request.Service, request.CpuMillis, request.MemoryMib, request.HostPorts);
        return request.Gpu switch
        {
            GpuWork.Whole => GpuFit.TakeWhole(node, request.Model, request.WholeGpus),
            GpuWork.Slice => GpuFit.TakeSlice(node, slot, request.SliceMemoryMib, request.CorePercent),
            _ => null,
        };
    }

    /// <summary>Whether a node's driver <paramref name="actual"/> matches the requested prefix <paramref name="wanted"/> on dot boundaries.</summary>
    public static bool DriverMatches(string actual, string wanted) =>
        actual.StartsWith(wanted, StringComparison.Ordinal) && (actual.Length == wanted.Length || actual[wanted.Length] == '.');

    private void Hold(NodeState node, string service, long cpuMillis, long memoryMib, IReadOnlyList<int> hostPorts)
    {
        node.Add(cpuMillis, memoryMib, hostPorts);
        if (_spread.TryGetValue(service, out var counts))
        {
            if (counts is null)
            {
                counts = new int[Nodes.Length];
                _spread[service] = counts;
            }

            counts[node.Ordinal]++;
        }
    }

    private ModelFilter ModelFor(string model)
    {
        if (model.Length == 0)
        {
            return ModelFilter.Any;
        }

        if (!_models.TryGetValue(model, out var filter))
        {
            filter = ModelFilter.For(model, Nodes, _gpuCount);
            _models[model] = filter;
        }

        return filter;
    }

    private bool[] DriverFor(string version)
    {
        if (!_drivers.TryGetValue(version, out var matches))
        {
            matches = new bool[Nodes.Length];
            foreach (var node in Nodes)
            {
                matches[node.Ordinal] = DriverMatches(node.Node.GpuDriverVersion ?? "", version);
            }

            _drivers[version] = matches;
        }

        return matches;
    }
}
