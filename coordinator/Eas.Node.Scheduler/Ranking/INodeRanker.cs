namespace Eas.Node.Scheduler.Ranking;

/// <summary>
/// One preference among feasible nodes (Nomad's rank iterators). Higher scores are better;
/// rankers are compared in order, so a later ranker only breaks ties of the earlier ones.
/// </summary>
/// <remarks>
/// Scoring runs in two steps so that most nodes cost a few array reads: <see cref="Bound"/> scores
/// every node at once, before any checker runs, with a value the node's final score can never
/// exceed; the selection skips nodes whose bounds cannot beat the best node so far, and only for
/// the others, once the checkers accepted them, asks <see cref="Score"/> for the final score.
/// </remarks>
internal interface INodeRanker
{
    /// <summary>Writes, for each of <paramref name="nodes"/>, an upper bound of its score for <paramref name="request"/>. Must not allocate.</summary>
    void Bound(NodeState[] nodes, PreparedRequest request, Span<double> bounds);

    /// <summary>
    /// The score of <paramref name="node"/>, which the checkers just accepted (so it may read what
    /// they found, such as <see cref="PreparedRequest.Candidate"/>); at most <paramref name="bound"/>.
    /// Rankers whose bound is exact return <paramref name="bound"/>.
    /// </summary>
    double Score(NodeState node, PreparedRequest request, double bound) => bound;
}
