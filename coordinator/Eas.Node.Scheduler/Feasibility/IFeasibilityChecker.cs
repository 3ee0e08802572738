namespace Eas.Node.Scheduler.Feasibility;

/// <summary>
/// One hard requirement a node must meet to take a request (Nomad's <c>FeasibilityChecker</c>).
/// Checkers run in order and the first one that refuses a node names the reason.
/// </summary>
internal interface IFeasibilityChecker
{
    /// <summary>
    /// Null when <paramref name="node"/> can take <paramref name="request"/>; otherwise why not,
    /// phrased to follow a node count in the failure message ("2 short of CPU").
    /// </summary>
    string? Check(NodeState node, PlacementRequest request);
}
