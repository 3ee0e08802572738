namespace Eas.Node.Scheduler.Feasibility;

/// <summary>Refuses nodes where any host port of the request is already held.</summary>
internal sealed class HostPortChecker : IFeasibilityChecker
{
    public bool AppliesTo(PreparedRequest request) => request.HostPorts.Count > 0;

    public string? Check(NodeState node, PreparedRequest request)
    {
        var ports = request.HostPorts;
        for (var i = 0; i < ports.Count; i++)
        {
            if (node.IsPortUsed(ports[i]))
            {
                return "with a requested host port taken";
            }
        }

        return null;
    }
}
