using System.Globalization;

namespace Eas.Node.Scheduler.Feasibility;

/// <summary>Refuses nodes whose GPUs (of the requested model) are all unhealthy: unhealthy GPUs never get new work.</summary>
internal sealed class GpuHealthChecker : IFeasibilityChecker
{
    public bool AppliesTo(PreparedRequest request) => request.Gpu != GpuWork.None;

    public string? Check(NodeState node, PreparedRequest request) =>
        request.Model.HealthyMatchingGpus(node) > 0 ? null : "with all GPUs unhealthy";

    public string Explain(IReadOnlyList<NodeState> refused, PreparedRequest request, string reason) =>
        request.Model.IsAny
            ? string.Create(CultureInfo.InvariantCulture, $"{refused.Count} with all GPUs unhealthy")
            : string.Create(CultureInfo.InvariantCulture, $"{refused.Count} with all {request.Model.Model} GPUs unhealthy");
}
