namespace Eas.Node.Scheduler.Ranking;

/// <summary>
/// One preference among feasible nodes (Nomad's rank iterators). Higher scores are better;
/// rankers are compared in order, so a later ranker only breaks ties of the earlier ones.
/// </summary>
internal interface INodeRanker
{
    /// <summary>How good <paramref name="node"/> is for <paramref name="request"/>; higher is better.</summary>
    double Score(NodeState node, PlacementRequest request);
}
