namespace Eas.Node.Scheduler.Feasibility;

/// <summary>Refuses nodes whose free memory is below the request.</summary>
internal sealed class MemoryFitChecker : IFeasibilityChecker
{
    public string? Check(NodeState node, PreparedRequest request) =>
        node.FreeMemoryMib >= request.MemoryMib ? null : "short of memory";
}
