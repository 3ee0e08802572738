namespace Eas.Node.Scheduler.Feasibility;

/// <summary>Refuses nodes whose free CPU is below the request.</summary>
internal sealed class CpuFitChecker : IFeasibilityChecker
{
    public string? Check(NodeState node, PreparedRequest request) =>
        node.FreeCpuMillis >= request.CpuMillis ? null : "short of CPU";
}
