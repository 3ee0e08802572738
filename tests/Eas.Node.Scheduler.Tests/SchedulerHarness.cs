namespace Eas.Node.Scheduler.Tests;

/// <summary>
/// Builds a cluster, runs the scheduler and records every plan, like Nomad's
/// <c>scheduler/tests/testing.go</c> harness. Placements are applied to the harness's cluster, so
/// a later <see cref="Schedule"/> sees what an earlier one placed, as the coordinator would.
/// </summary>
internal sealed class SchedulerHarness
{
    private readonly InstanceScheduler _scheduler = new();
    private readonly List<NodeSnapshot> _nodes = [];
    private readonly List<PlacedInstance> _instances = [];

    public List<SchedulingPlan> Plans { get; } = [];

    public ClusterSnapshot Snapshot => new(_nodes.ToList(), _instances.ToList());

    public IReadOnlyList<PlacedInstance> Instances => _instances;

    public SchedulerHarness Node(
        string name,
        long cpuMillis = 4000,
        long memoryMib = 8192,
        bool schedulable = true,
        IReadOnlyDictionary<string, string>? labels = null,
        IReadOnlyList<GpuSnapshot>? gpus = null,
        string driver = "")
    {
        _nodes.Add(new NodeSnapshot(name, cpuMillis, memoryMib, labels ?? new Dictionary<string, string>(), schedulable, gpus, driver));
        return this;
    }

    public SchedulerHarness Placed(string instanceId, string service, string node, long cpuMillis, long memoryMib, params int[] hostPorts)
    {
        _instances.Add(new PlacedInstance(instanceId, service, node, cpuMillis, memoryMib, hostPorts));
        return this;
    }

    public SchedulerHarness PlacedGpu(string instanceId, string service, string node, GpuAssignment gpu)
    {
        _instances.Add(new PlacedInstance(instanceId, service, node, 0, 0, [], gpu));
        return this;
    }

    public SchedulingPlan Schedule(params PlacementRequest[] requests)
    {
        var plan = _scheduler.Schedule(Snapshot, requests);
        Plans.Add(plan);
        foreach (var placement in plan.Placements)
        {
            var request = requests.First(r => r.InstanceId == placement.InstanceId);
            _instances.Add(new PlacedInstance(request.InstanceId, request.Service, placement.Node, request.CpuMillis, request.MemoryMib, request.HostPorts, placement.Gpu));
        }

        return plan;
    }

    public static PlacementRequest Request(string instanceId, string service = "svc", long cpuMillis = 1000, long memoryMib = 1024, int[]? hostPorts = null, IReadOnlyDictionary<string, string>? selector = null) =>
        new(instanceId, service, cpuMillis, memoryMib, hostPorts ?? [], selector);

    /// <summary>A request with GPU work and little CPU and memory, so that only the GPUs bind.</summary>
    public static PlacementRequest WithGpu(string instanceId, GpuRequest gpu, string service = "svc") =>
        new(instanceId, service, 100, 128, [], null, gpu);

    /// <summary>An H100 80GB as NVML reports it (81559 MiB), with UUID "GPU-<paramref name="node"/>-<paramref name="index"/>".</summary>
    public static GpuSnapshot H100(string node, int index, bool healthy = true) =>
        new(index, $"GPU-{node}-{index}", "NVIDIA H100 80GB HBM3", 81559, healthy);

    /// <summary>An A100 80GB as NVML reports it (81920 MiB), with UUID "GPU-<paramref name="node"/>-<paramref name="index"/>".</summary>
    public static GpuSnapshot A100(string node, int index, bool healthy = true) =>
        new(index, $"GPU-{node}-{index}", "NVIDIA A100-SXM4-80GB", 81920, healthy);

    /// <summary>A MIG device of an 80GB part: "1g.10gb" (9856 MiB), "2g.20gb" (19968 MiB), "3g.40gb" (40192 MiB) or "7g.80gb" (80896 MiB).</summary>
    public static MigDeviceSnapshot Mig(string uuid, string profile) => profile switch
    {
        "1g.10gb" => new(uuid, profile, 9856, 1),
        "2g.20gb" => new(uuid, profile, 19968, 2),
        "3g.40gb" => new(uuid, profile, 40192, 3),
        "7g.80gb" => new(uuid, profile, 80896, 7),
        _ => throw new ArgumentException($"no test profile '{profile}'", nameof(profile)),
    };

    /// <summary>The GPU work of <paramref name="instanceId"/> in <paramref name="plan"/>.</summary>
    public static GpuAssignment GpuOf(SchedulingPlan plan, string instanceId) =>
        plan.Placements.Single(p => p.InstanceId == instanceId).Gpu!;

    public static string NodeOf(SchedulingPlan plan, string instanceId) =>
        plan.Placements.Single(p => p.InstanceId == instanceId).Node;
}
