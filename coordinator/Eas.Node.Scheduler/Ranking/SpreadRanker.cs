namespace Eas.Node.Scheduler.Ranking;

/// <summary>
/// Prefers nodes with fewer instances of the same service, so that losing one host loses as few
/// replicas as possible. Scores are 0 for a node without the service, −1 with one instance, and so on.
/// </summary>
internal sealed class SpreadRanker : INodeRanker
{
    public void Bound(NodeState[] nodes, PreparedRequest request, Span<double> bounds)
    {
        if (request.ServiceCounts is not { } counts)
        {
            bounds.Clear();
            return;
        }

        for (var i = 0; i < nodes.Length; i++)
        {
            bounds[i] = -counts[nodes[i].Ordinal];
        }
    }
}
