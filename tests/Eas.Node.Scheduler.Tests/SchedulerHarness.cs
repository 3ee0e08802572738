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

    public SchedulerHarness Node(string name, long cpuMillis = 4000, long memoryMib = 8192, bool schedulable = true, IReadOnlyDictionary<string, string>? labels = null)
    {
        _nodes.Add(new NodeSnapshot(name, cpuMillis, memoryMib, labels ?? new Dictionary<string, string>(), schedulable));
        return this;
    }

    public SchedulerHarness Placed(string instanceId, string service, string node, long cpuMillis, long memoryMib, params int[] hostPorts)
    {
        _instances.Add(new PlacedInstance(instanceId, service, node, cpuMillis, memoryMib, hostPorts));
        return this;
    }

    public SchedulingPlan Schedule(params PlacementRequest[] requests)
    {
        var plan = _scheduler.Schedule(Snapshot, requests);
        Plans.Add(plan);
        foreach (var placement in plan.Placements)
        {
            var request = requests.First(r => r.InstanceId == placement.InstanceId);
            _instances.Add(new PlacedInstance(request.InstanceId, request.Service, placement.Node, request.CpuMillis, request.MemoryMib, request.HostPorts));
        }

        return plan;
    }

    public static PlacementRequest Request(string instanceId, string service = "svc", long cpuMillis = 1000, long memoryMib = 1024, int[]? hostPorts = null, IReadOnlyDictionary<string, string>? selector = null) =>
        new(instanceId, service, cpuMillis, memoryMib, hostPorts ?? [], selector);

    public static string NodeOf(SchedulingPlan plan, string instanceId) =>
        plan.Placements.Single(p => p.InstanceId == instanceId).Node;
}
