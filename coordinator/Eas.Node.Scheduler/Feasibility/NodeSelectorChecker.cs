namespace Eas.Node.Scheduler.Feasibility;

/// <summary>Refuses nodes that lack a label of the request's node selector, or carry it with another value.</summary>
internal sealed class NodeSelectorChecker : IFeasibilityChecker
{
    public string? Check(NodeState node, PlacementRequest request)
    {
        if (request.NodeSelector is not { Count: > 0 } selector)
        {
            return null;
        }

        foreach (var (key, value) in selector)
        {
            if (!node.Node.Labels.TryGetValue(key, out var actual) || !string.Equals(actual, value, StringComparison.Ordinal))
            {
                return "without the selected labels";
            }
        }

        return null;
    }
}
