using System.Globalization;

namespace Eas.Node.Scheduler.Feasibility;

/// <summary>Refuses nodes without a GPU whose model contains the requested model (case-insensitive).</summary>
internal sealed class GpuModelChecker : IFeasibilityChecker
{
    private const int ListedModels = 3;

    public bool AppliesTo(PreparedRequest request) => request.Gpu != GpuWork.None && !request.Model.IsAny;

    public string? Check(NodeState node, PreparedRequest request) =>
        request.Model.MatchingGpus(node) > 0 ? null : "without a GPU of the requested model";

    public string Explain(IReadOnlyList<NodeState> refused, PreparedRequest request, string reason)
    {
        var models = refused.SelectMany(n => n.Gpus).Select(g => g.Snapshot.Model).Distinct(StringComparer.Ordinal).ToList();
        var more = models.Count > ListedModels ? $" and {models.Count - ListedModels} more" : "";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{refused.Count} without a GPU of model {request.Model.Model} (found: {string.Join(", ", models.Take(ListedModels))}{more})");
    }
}
