namespace Eas.Node.Scheduler.Feasibility;

/// <summary>Refuses cordoned, draining and down nodes.</summary>
internal sealed class SchedulableChecker : IFeasibilityChecker
{
    public string? Check(NodeState node, PreparedRequest request) =>
        node.Schedulable ? null : "not schedulable";
}
