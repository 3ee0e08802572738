using System.Globalization;

namespace Eas.Node.Scheduler.Feasibility;

/// <summary>Refuses nodes whose GPU driver version does not start with the requested prefix (on dot boundaries).</summary>
internal sealed class GpuDriverChecker : IFeasibilityChecker
{
    private const int ListedDrivers = 3;

    public bool AppliesTo(PreparedRequest request) => request.DriverMatches is not null;

    public string? Check(NodeState node, PreparedRequest request) =>
        request.DriverMatches![node.Ordinal] ? null : "with another GPU driver";

    public string Explain(IReadOnlyList<NodeState> refused, PreparedRequest request, string reason)
    {
        var drivers = refused
            .Select(n => string.IsNullOrEmpty(n.Node.GpuDriverVersion) ? "unknown" : n.Node.GpuDriverVersion)
            .Distinct(StringComparer.Ordinal)
            .ToList();
        var more = drivers.Count > ListedDrivers ? $" or {drivers.Count - ListedDrivers} more" : "";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{refused.Count} with driver {string.Join(" or ", drivers.Take(ListedDrivers))}{more}, not {request.DriverVersion}");
    }
}
