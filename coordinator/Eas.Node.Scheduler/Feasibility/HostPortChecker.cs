namespace Eas.Node.Scheduler.Feasibility;

/// <summary>Refuses nodes where any host port of the request is already held.</summary>
internal sealed class HostPortChecker : IFeasibilityChecker
{
    public string? Check(NodeState node, PlacementRequest request)
    {
        foreach (var port in request.HostPorts)
        {
            if (node.IsPortUsed(port))
            {
                return "with a requested host port taken";
            }
        }

        return null;
    }
}
