using System.Globalization;

namespace Eas.Node.Scheduler.Feasibility;

/// <summary>
/// One hard requirement a node must meet to take a request (Nomad's <c>FeasibilityChecker</c>).
/// Checkers run in order and the first one that refuses a node names the reason.
/// </summary>
internal interface IFeasibilityChecker
{
    /// <summary>
    /// False when the checker can never refuse <paramref name="request"/> (a request without host
    /// ports, GPU work, …); the selection then skips it for every node.
    /// </summary>
    bool AppliesTo(PreparedRequest request) => true;

    /// <summary>
    /// Null when <paramref name="node"/> can take <paramref name="request"/>; otherwise why not, as a
    /// constant phrase that follows a node count ("2 short of CPU"). Runs for every candidate node
    /// of every request, so it must not allocate.
    /// </summary>
    string? Check(NodeState node, PreparedRequest request);

    /// <summary>
    /// Only when a request fits nowhere: the failure message's part for the nodes this checker
    /// refused with <paramref name="reason"/>, count first ("2 with too few free GPUs (0 of 2 free)").
    /// </summary>
    string Explain(IReadOnlyList<NodeState> refused, PreparedRequest request, string reason) =>
        string.Create(CultureInfo.InvariantCulture, $"{refused.Count} {reason}");
}
