namespace Eas.Node.Scheduler.Ranking;

/// <summary>
/// Prefers the node that stays emptiest after the placement: the mean of the CPU and memory
/// shares left free, from 0 (full) to 1 (empty). Spreading load keeps headroom for bursts and for
/// the surge instances of rolling updates.
/// </summary>
internal sealed class LeastAllocatedRanker : INodeRanker
{
    public void Bound(NodeState[] nodes, PreparedRequest request, Span<double> bounds)
    {
        var cpuMillis = request.CpuMillis;
        var memoryMib = request.MemoryMib;
        for (var i = 0; i < nodes.Length; i++)
        {
            var node = nodes[i];
            var cpu = FreeShare(node.CpuMillis, node.FreeCpuMillis - cpuMillis);
            var memory = FreeShare(node.MemoryMib, node.FreeMemoryMib - memoryMib);
            bounds[i] = (cpu + memory) / 2;
        }
    }

    private static double FreeShare(long capacity, long freeAfter) =>
        capacity <= 0 ? 0 : Math.Clamp((double)freeAfter / capacity, 0, 1);
}
