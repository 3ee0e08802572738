using Eas.Node.Contracts.V1;

namespace Eas.Node.Gateway.Routing;

/// <summary>Holds the current routing table; readers take it lock-free, each snapshot swaps in a new one.</summary>
internal sealed class RouteStore
{
    private readonly Lock _applyLock = new();
    private volatile RouteTable _current = RouteTable.Empty;

    public RouteTable Current => _current;

    public RouteTable Apply(EndpointSnapshot snapshot)
    {
        // Snapshots are applied one at a time so that endpoint counters carry over from the table just replaced.
        lock (_applyLock)
        {
            var table = RouteTable.FromSnapshot(snapshot, _current);
            _current = table;
            return table;
        }
    }
}
