namespace Eas.Node.Scheduler.Feasibility;

/// <summary>Refuses nodes that lack a label of the request's node selector, or carry it with another value.</summary>
internal sealed class NodeSelectorChecker : IFeasibilityChecker
{
    public bool AppliesTo(PreparedRequest request) => request.Selector.Length > 0;

    public string? Check(NodeState node, PreparedRequest request)
    {
        var labels = node.Node.Labels;
        foreach (var (key, value) in request.Selector)
        {
            if (!labels.TryGetValue(key, out var actual) || !string.Equals(actual, value, StringComparison.Ordinal))
            {
                return "without the selected labels";
            }
        }

        return null;
    }
}
