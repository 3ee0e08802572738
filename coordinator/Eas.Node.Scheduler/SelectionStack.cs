using System.Globalization;
using System.Text;
using Eas.Node.Scheduler.Feasibility;
using Eas.Node.Scheduler.Ranking;

namespace Eas.Node.Scheduler;

/// <summary>
/// Picks a node for one request, the way Nomad's <c>scheduler/feasible/stack.go</c> does:
/// feasibility checkers filter the nodes, rankers order the survivors, and the best one wins,
/// with the node name (ordinal) as the last, deterministic tie-break.
/// </summary>
internal sealed class SelectionStack
{
    private readonly IReadOnlyList<IFeasibilityChecker> _checkers;
    private readonly IReadOnlyList<INodeRanker> _rankers;

    public SelectionStack(IReadOnlyList<IFeasibilityChecker> checkers, IReadOnlyList<INodeRanker> rankers)
    {
        _checkers = checkers;
        _rankers = rankers;
    }

    /// <summary>
    /// The stack Eas.Node schedules with: schedulable → node selector → CPU → memory → host ports;
    /// then spread replicas of a service, then least allocated.
    /// </summary>
    public static SelectionStack Default { get; } = new(
        [new SchedulableChecker(), new NodeSelectorChecker(), new CpuFitChecker(), new MemoryFitChecker(), new HostPortChecker()],
        [new SpreadRanker(), new LeastAllocatedRanker()]);

    /// <summary>Chooses a node for <paramref name="request"/> among <paramref name="nodes"/>.</summary>
    public Selection Select(IReadOnlyList<NodeState> nodes, PlacementRequest request)
    {
        // Refusals per checker, so the message lists reasons in checker order whatever the node order.
        var refusals = new (string Reason, int Count)[_checkers.Count];
        NodeState? best = null;
        double[]? bestScores = null;

        foreach (var node in nodes)
        {
            if (FirstRefusal(node, request) is var (index, reason))
            {
                refusals[index] = (reason, refusals[index].Count + 1);
                continue;
            }

            var scores = _rankers.Select(r => r.Score(node, request)).ToArray();
            if (best is null || IsBetter(scores, node, bestScores!, best))
            {
                best = node;
                bestScores = scores;
            }
        }

        return best is null
            ? new Selection(null, 0, DescribeFailure(nodes.Count, request, refusals))
            : new Selection(best, bestScores!.Sum(), null);
    }

    private (int Index, string Reason)? FirstRefusal(NodeState node, PlacementRequest request)
    {
        for (var i = 0; i < _checkers.Count; i++)
        {
            if (_checkers[i].Check(node, request) is { } reason)
            {
                return (i, reason);
            }
        }

        return null;
    }

    private static bool IsBetter(double[] scores, NodeState node, double[] bestScores, NodeState best)
    {
        for (var i = 0; i < scores.Length; i++)
        {
            if (scores[i] != bestScores[i])
            {
                return scores[i] > bestScores[i];
            }
        }

        return string.CompareOrdinal(node.Name, best.Name) < 0;
    }

    private static string DescribeFailure(int nodeCount, PlacementRequest request, (string Reason, int Count)[] refusals)
    {
        var text = new StringBuilder("no node with ");
        text.Append(CultureInfo.InvariantCulture, $"{request.CpuMillis}m CPU");
        if (request.HostPorts.Count == 0)
        {
            text.Append(CultureInfo.InvariantCulture, $" and {request.MemoryMib} MiB memory free");
        }
        else
        {
            var ports = string.Join(", ", request.HostPorts.Select(p => p.ToString(CultureInfo.InvariantCulture)));
            var noun = request.HostPorts.Count == 1 ? "host port" : "host ports";
            text.Append(CultureInfo.InvariantCulture, $", {request.MemoryMib} MiB memory and {noun} {ports} free");
        }

        if (request.NodeSelector is { Count: > 0 } selector)
        {
            var labels = string.Join(", ", selector.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"));
            text.Append(CultureInfo.InvariantCulture, $", labelled {labels}");
        }

        text.Append(CultureInfo.InvariantCulture, $"; {nodeCount} {(nodeCount == 1 ? "node" : "nodes")} checked");
        if (nodeCount == 0)
        {
            text.Append(": the cluster has no nodes; start an agent or check that agents reach the coordinator");
            return text.ToString();
        }

        var parts = refusals.Where(r => r.Count > 0).Select(r => $"{r.Count} {r.Reason}");
        text.Append(": ").Append(string.Join(", ", parts));
        return text.ToString();
    }
}

/// <summary>The outcome of <see cref="SelectionStack.Select"/>: a node and its score, or why there is none.</summary>
internal sealed record Selection(NodeState? Node, double Score, string? FailureReason);
