namespace Eas.Node.Scheduler.Feasibility;

/// <summary>Refuses cordoned, draining and down nodes.</summary>
internal sealed class SchedulableChecker : IFeasibilityChecker
{
    public string? Check(NodeState node, PlacementRequest request) =>
        node.Node.Schedulable ? null : "not schedulable";
}
