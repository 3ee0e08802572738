namespace Eas.Node.Scheduler.Ranking;

/// <summary>
/// Prefers the node that stays emptiest after the placement: the mean of the CPU and memory
/// shares left free, from 0 (full) to 1 (empty). Spreading load keeps headroom for bursts and for
/// the surge instances of rolling updates.
/// </summary>
internal sealed class LeastAllocatedRanker : INodeRanker
{
    public double Score(NodeState node, PlacementRequest request)
    {
        var cpu = FreeShare(node.Node.CpuMillis, node.FreeCpuMillis - request.CpuMillis);
        var memory = FreeShare(node.Node.MemoryMib, node.FreeMemoryMib - request.MemoryMib);
        return (cpu + memory) / 2;
    }

    private static double FreeShare(long capacity, long freeAfter) =>
        capacity <= 0 ? 0 : Math.Clamp((double)freeAfter / capacity, 0, 1);
}
