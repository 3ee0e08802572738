namespace Eas.Node.Scheduler.Ranking;

/// <summary>
/// Bin-packs GPU work so that whole GPUs stay free for whole-GPU work. A slice scores 1 on a node
/// where it lands on a MIG device or on a GPU that already holds slices, 0 where it would take a
/// fresh GPU. Whole GPUs score 1 / (1 + the node's whole GPUs left free afterwards), so the node
/// left with the fewest free GPUs wins. Requests without GPU work score 0 everywhere.
/// </summary>
internal sealed class GpuPackingRanker : INodeRanker
{
    public void Bound(NodeState[] nodes, PreparedRequest request, Span<double> bounds)
    {
        switch (request.Gpu)
        {
            case GpuWork.Whole:
                var wanted = request.WholeGpus;
                for (var i = 0; i < nodes.Length; i++)
                {
                    bounds[i] = 1.0 / (1 + Math.Max(0, nodes[i].FreeWholeGpus - wanted));
                }

                break;
            case GpuWork.Slice:
                var memory = request.SliceMemoryMib;
                var core = request.CorePercent;
                for (var i = 0; i < nodes.Length; i++)
                {
                    bounds[i] = nodes[i].MightPack(memory, core) ? 1 : 0;
                }

                break;
            default:
                bounds.Clear();
                break;
        }
    }

    public double Score(NodeState node, PreparedRequest request, double bound) =>
        request.Gpu == GpuWork.Slice
            ? (request.Candidate.Kind == GpuAssignmentKind.Mig || node.Gpus[request.Candidate.Index].Slices > 0 ? 1 : 0)
            : bound;
}
