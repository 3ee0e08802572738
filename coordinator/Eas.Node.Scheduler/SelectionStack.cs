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
/// <remarks>
/// Every node is considered, so the pick is the true best; three things keep that cheap (the
/// scheduler places tens of thousands of requests a second on a thousand nodes): checkers that
/// cannot refuse a request are dropped before the walk; rankers first bound every node's score in
/// one tight loop each, and a node whose bounds cannot beat the best node so far is skipped before
/// any checker runs; and checkers, rankers and the node state neither allocate nor walk
/// collections they do not need.
/// </remarks>
internal sealed class SelectionStack
{
    private readonly IFeasibilityChecker[] _checkers;
    private readonly INodeRanker[] _rankers;

    public SelectionStack(IFeasibilityChecker[] checkers, INodeRanker[] rankers)
    {
        _checkers = checkers;
        _rankers = rankers;
    }

    /// <summary>
    /// The stack Eas.Node schedules with: schedulable → node selector → has GPUs → GPU driver →
    /// GPU model → healthy GPUs → CPU → memory → host ports → GPU room; then GPU packing, spread
    /// replicas of a service, least allocated.
    /// </summary>
    public static SelectionStack Default { get; } = new(
        [
            new SchedulableChecker(), new NodeSelectorChecker(),
            new GpuPresenceChecker(), new GpuDriverChecker(), new GpuModelChecker(), new GpuHealthChecker(),
            new CpuFitChecker(), new MemoryFitChecker(), new HostPortChecker(), new GpuCapacityChecker(),
        ],
        [new GpuPackingRanker(), new SpreadRanker(), new LeastAllocatedRanker()]);

    /// <summary>Scratch space for <see cref="Select"/> on a cluster of <paramref name="nodeCount"/> nodes; one per plan, reused for every request.</summary>
    public double[] NewBoundsBuffer(int nodeCount) => new double[_rankers.Length * nodeCount];

    /// <summary>Chooses a node for <paramref name="request"/> among <paramref name="nodes"/>, which are in name order.</summary>
    /// <param name="nodes">The nodes, in name order.</param>
    /// <param name="request">The request.</param>
    /// <param name="bounds">A buffer from <see cref="NewBoundsBuffer"/>.</param>
    public Selection Select(NodeState[] nodes, PreparedRequest request, double[] bounds)
    {
        var checkers = Array.FindAll(_checkers, c => c.AppliesTo(request));
        var count = nodes.Length;
        for (var r = 0; r < _rankers.Length; r++)
        {
            _rankers[r].Bound(nodes, request, bounds.AsSpan(r * count, count));
        }

        Span<double> scores = stackalloc double[_rankers.Length];
        Span<double> bestScores = stackalloc double[_rankers.Length];
        NodeState? best = null;
        GpuSlot bestSlot = default;
        for (var i = 0; i < count; i++)
        {
            if (best is not null && !MightBeat(bounds, count, i, bestScores))
            {
                continue;
            }

            var node = nodes[i];
            if (FirstRefusal(node, request, checkers) >= 0)
            {
                continue;
            }

            for (var r = 0; r < _rankers.Length; r++)
            {
                scores[r] = _rankers[r].Score(node, request, bounds[(r * count) + i]);
            }

            // Nodes come in name order, so on a tie the earlier name (already best) stays.
            if (best is null || IsBetter(scores, bestScores))
            {
                best = node;
                bestSlot = request.Candidate;
                scores.CopyTo(bestScores);
            }
        }

        if (best is null)
        {
            return new Selection(null, 0, default, DescribeFailure(nodes, request, checkers));
        }

        var total = 0.0;
        foreach (var score in bestScores)
        {
            total += score;
        }

        return new Selection(best, total, bestSlot, null);
    }

    /// <summary>Whether node <paramref name="node"/>'s bounds beat <paramref name="bestScores"/>; a tie cannot, as the best node's name comes first.</summary>
    private static bool MightBeat(double[] bounds, int count, int node, ReadOnlySpan<double> bestScores)
    {
        for (var r = 0; r < bestScores.Length; r++)
        {
            var bound = bounds[(r * count) + node];
            if (bound != bestScores[r])
            {
                return bound > bestScores[r];
            }
        }

        return false;
    }

    private static int FirstRefusal(NodeState node, PreparedRequest request, IFeasibilityChecker[] checkers)
    {
        for (var i = 0; i < checkers.Length; i++)
        {
            if (checkers[i].Check(node, request) is not null)
            {
                return i;
            }
        }

        return -1;
    }

    private static bool IsBetter(ReadOnlySpan<double> scores, ReadOnlySpan<double> bestScores)
    {
        for (var i = 0; i < scores.Length; i++)
        {
            if (scores[i] != bestScores[i])
            {
                return scores[i] > bestScores[i];
            }
        }

        return false;
    }

    /// <summary>Why no node of <paramref name="nodes"/> fits <paramref name="request"/>, worded as <see cref="Select"/> would.</summary>
    public string DescribeFailure(NodeState[] nodes, PreparedRequest request) =>
        DescribeFailure(nodes, request, Array.FindAll(_checkers, c => c.AppliesTo(request)));

    /// <summary>Why no node fits: what the request needs, then per checker (in checker order) how many nodes it refused and why.</summary>
    private static string DescribeFailure(NodeState[] nodes, PreparedRequest request, IFeasibilityChecker[] checkers)
    {
        var text = new StringBuilder("no node with ");
        AppendNeeds(text, request);
        text.Append(CultureInfo.InvariantCulture, $"; {nodes.Length} {(nodes.Length == 1 ? "node" : "nodes")} checked");
        if (nodes.Length == 0)
        {
            text.Append(": the cluster has no nodes; start an agent or check that agents reach the coordinator");
            return text.ToString();
        }

        var refusals = new List<(int Checker, string Reason, List<NodeState> Nodes)>();
        foreach (var node in nodes)
        {
            for (var i = 0; i < checkers.Length; i++)
            {
                if (checkers[i].Check(node, request) is { } reason)
                {
                    var group = refusals.Find(r => r.Checker == i && r.Reason == reason).Nodes;
                    if (group is null)
                    {
                        refusals.Add((i, reason, [node]));
                    }
                    else
                    {
                        group.Add(node);
                    }

                    break;
                }
            }
        }

        var parts = refusals
            .OrderBy(r => r.Checker)
            .Select(r => checkers[r.Checker].Explain(r.Nodes, request, r.Reason));
        text.Append(": ").AppendJoin(", ", parts);
        return text.ToString();
    }

    /// <summary>"1 free GPU of any model, 1000m CPU and 1024 MiB memory free, labelled zone=z1".</summary>
    private static void AppendNeeds(StringBuilder text, PreparedRequest request)
    {
        var model = request.Model.Model;
        switch (request.Gpu)
        {
            case GpuWork.Whole:
                var plural = request.WholeGpus == 1 ? "" : "s";
                if (model.Length == 0)
                {
                    text.Append(CultureInfo.InvariantCulture, $"{request.WholeGpus} free GPU{plural} of any model");
                }
                else
                {
                    text.Append(CultureInfo.InvariantCulture, $"{request.WholeGpus} free {model} GPU{plural}");
                }

                break;
            case GpuWork.Slice:
                text.Append(CultureInfo.InvariantCulture, $"a GPU slice of {request.SliceMemoryMib} MiB");
                if (request.CorePercent > 0)
                {
                    text.Append(CultureInfo.InvariantCulture, $" and {request.CorePercent}% compute");
                }

                if (model.Length > 0)
                {
                    text.Append(CultureInfo.InvariantCulture, $" on a {model} GPU");
                }

                break;
            default:
                break;
        }

        if (request.Gpu != GpuWork.None)
        {
            if (request.DriverVersion.Length > 0)
            {
                text.Append(CultureInfo.InvariantCulture, $" with driver {request.DriverVersion}");
            }

            text.Append(", ");
        }

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

        if (request.Selector.Length > 0)
        {
            var labels = string.Join(", ", request.Selector.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"));
            text.Append(CultureInfo.InvariantCulture, $", labelled {labels}");
        }
    }
}

/// <summary>The outcome of <see cref="SelectionStack.Select"/>: a node, its score and the GPU slot a slice takes there, or why there is none.</summary>
internal readonly record struct Selection(NodeState? Node, double Score, GpuSlot Slot, string? FailureReason);
