namespace Eas.Node.Scheduler.Feasibility;

/// <summary>Refuses nodes without GPUs for requests with GPU work.</summary>
internal sealed class GpuPresenceChecker : IFeasibilityChecker
{
    public bool AppliesTo(PreparedRequest request) => request.Gpu != GpuWork.None;

    public string? Check(NodeState node, PreparedRequest request) =>
        node.Gpus.Length > 0 ? null : "without GPUs";
}
