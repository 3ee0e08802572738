namespace Eas.Node.Scheduler;

/// <summary>What kind of GPU work a request asks for.</summary>
internal enum GpuWork
{
    None,
    Whole,
    Slice,
}

/// <summary>A GPU place on a node: a shared GPU (index into <see cref="NodeState.Gpus"/>) or a MIG device (index into <see cref="NodeState.MigDevices"/>).</summary>
internal readonly record struct GpuSlot(GpuAssignmentKind Kind, int Index);

/// <summary>
/// A request with everything checkers and rankers need worked out once, before the nodes are
/// walked: flags, the service's spread counts, the GPU model and driver filters. Also carries the
/// GPU slot the capacity checker found on the node being checked, for the packing ranker and for
/// the placement. One per request of one <see cref="InstanceScheduler.Schedule"/> call.
/// </summary>
internal sealed class PreparedRequest
{
    public PreparedRequest(PlacementRequest request, int[]? serviceCounts, ModelFilter model, bool[]? driverMatches)
    {
        Request = request;
        CpuMillis = request.CpuMillis;
        MemoryMib = request.MemoryMib;
        HostPorts = request.HostPorts;
        Selector = request.NodeSelector is { Count: > 0 } selector ? [.. selector] : [];
        ServiceCounts = serviceCounts;
        Model = model;
        DriverMatches = driverMatches;

        var gpu = request.Gpu;
        Gpu = gpu switch
        {
            { WholeGpus: > 0 } => GpuWork.Whole,
            { SliceMemoryMib: > 0 } => GpuWork.Slice,
            _ => GpuWork.None,
        };
        WholeGpus = gpu?.WholeGpus ?? 0;
        SliceMemoryMib = gpu?.SliceMemoryMib ?? 0;
        CorePercent = gpu?.CorePercent ?? 0;
        DriverVersion = gpu?.DriverVersion ?? "";
    }

    public PlacementRequest Request { get; }

    public long CpuMillis { get; }

    public long MemoryMib { get; }

    public IReadOnlyList<int> HostPorts { get; }

    /// <summary>The node selector's labels, copied so that checking a node does not allocate an enumerator.</summary>
    public KeyValuePair<string, string>[] Selector { get; }

    /// <summary>Instances of the request's service per node ordinal; null when the service has none anywhere yet.</summary>
    public int[]? ServiceCounts { get; }

    public GpuWork Gpu { get; }

    public int WholeGpus { get; }

    public long SliceMemoryMib { get; }

    public int CorePercent { get; }

    public ModelFilter Model { get; }

    public string DriverVersion { get; }

    /// <summary>Per node ordinal, whether the node's driver matches <see cref="DriverVersion"/>; null when any driver does.</summary>
    public bool[]? DriverMatches { get; }

    /// <summary>The slot <c>GpuCapacityChecker</c> found for a slice on the node it checked last.</summary>
    public GpuSlot Candidate { get; set; }

    public int InstancesOn(NodeState node) => ServiceCounts is null ? 0 : ServiceCounts[node.Ordinal];
}

/// <summary>
/// Which GPUs a request's model constraint accepts, worked out once per distinct model string for
/// the whole cluster: per GPU whether it matches, and per node how many (healthy) GPUs match.
/// </summary>
internal sealed class ModelFilter
{
    private readonly bool[]? _gpuMatches;
    private readonly int[]? _matching;
    private readonly int[]? _healthyMatching;

    private ModelFilter(string model, bool[]? gpuMatches, int[]? matching, int[]? healthyMatching)
    {
        Model = model;
        _gpuMatches = gpuMatches;
        _matching = matching;
        _healthyMatching = healthyMatching;
    }

    /// <summary>Accepts every GPU.</summary>
    public static ModelFilter Any { get; } = new("", null, null, null);

    /// <summary>The substring a GPU's model must contain, case-insensitive; "" for any.</summary>
    public string Model { get; }

    public bool IsAny => _gpuMatches is null;

    public static ModelFilter For(string model, IReadOnlyList<NodeState> nodes, int gpuCount)
    {
        if (model.Length == 0)
        {
            return Any;
        }

        var gpuMatches = new bool[gpuCount];
        var matching = new int[nodes.Count];
        var healthyMatching = new int[nodes.Count];
        foreach (var node in nodes)
        {
            for (var i = 0; i < node.Gpus.Length; i++)
            {
                if (node.Gpus[i].Snapshot.Model.Contains(model, StringComparison.OrdinalIgnoreCase))
                {
                    gpuMatches[node.GpuOrdinalBase + i] = true;
                    matching[node.Ordinal]++;
                    healthyMatching[node.Ordinal] += node.Gpus[i].Healthy ? 1 : 0;
                }
            }
        }

        return new ModelFilter(model, gpuMatches, matching, healthyMatching);
    }

    /// <summary>Whether <paramref name="node"/>'s GPU at index <paramref name="gpu"/> of <see cref="NodeState.Gpus"/> matches.</summary>
    public bool Matches(NodeState node, int gpu) => _gpuMatches is null || _gpuMatches[node.GpuOrdinalBase + gpu];

    public int MatchingGpus(NodeState node) => _matching is null ? node.Gpus.Length : _matching[node.Ordinal];

    public int HealthyMatchingGpus(NodeState node) => _healthyMatching is null ? node.HealthyGpus : _healthyMatching[node.Ordinal];
}
