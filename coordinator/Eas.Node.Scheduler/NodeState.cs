namespace Eas.Node.Scheduler;

/// <summary>
/// A node while one plan is being made: its snapshot plus what the snapshot's instances and the
/// plan's earlier placements already hold on it. Mutable, and private to one
/// <see cref="InstanceScheduler.Schedule"/> call, so the snapshot itself is never changed.
/// </summary>
internal sealed class NodeState
{
    private readonly HashSet<int> _usedPorts = [];
    private readonly Dictionary<string, int> _instancesByService = new(StringComparer.Ordinal);

    public NodeState(NodeSnapshot node)
    {
        Node = node;
    }

    public NodeSnapshot Node { get; }

    public string Name => Node.Name;

    public long UsedCpuMillis { get; private set; }

    public long UsedMemoryMib { get; private set; }

    public long FreeCpuMillis => Node.CpuMillis - UsedCpuMillis;

    public long FreeMemoryMib => Node.MemoryMib - UsedMemoryMib;

    public bool IsPortUsed(int port) => _usedPorts.Contains(port);

    public int InstancesOf(string service) => _instancesByService.GetValueOrDefault(service);

    public void Add(string service, long cpuMillis, long memoryMib, IEnumerable<int> hostPorts)
    {
        UsedCpuMillis += cpuMillis;
        UsedMemoryMib += memoryMib;
        _usedPorts.UnionWith(hostPorts);
        _instancesByService[service] = InstancesOf(service) + 1;
    }
}
