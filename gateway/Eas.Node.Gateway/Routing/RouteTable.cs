using System.Diagnostics.CodeAnalysis;
using Eas.Node.Contracts.V1;

namespace Eas.Node.Gateway.Routing;

/// <summary>An immutable routing table built from one <see cref="EndpointSnapshot"/>.</summary>
internal sealed class RouteTable
{
    /// <summary>EAS's default request timeout (metadata.rpc.keepalive) when a route does not say.</summary>
    public const int DefaultKeepaliveMs = 5000;

    private readonly Dictionary<string, ServiceEntry> _services;
    private readonly Dictionary<string, ServiceEntry>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    private RouteTable(long revision, bool received, Dictionary<string, ServiceEntry> services, int endpointCount)
    {
        Revision = revision;
        Received = received;
        _services = services;
        _lookup = services.GetAlternateLookup<ReadOnlySpan<char>>();
        EndpointCount = endpointCount;
    }

    /// <summary>The table before the first snapshot arrives.</summary>
    public static RouteTable Empty { get; } = new(0, received: false, new Dictionary<string, ServiceEntry>(StringComparer.Ordinal), 0);

    public long Revision { get; }

    /// <summary>False until the feed delivered a snapshot: the gateway is not ready yet.</summary>
    public bool Received { get; }

    public int ServiceCount => _services.Count;

    public int EndpointCount { get; }

    /// <summary>Looks a service up by the name in the URL, without allocating a string for it.</summary>
    public bool TryGet(ReadOnlySpan<char> name, [MaybeNullWhen(false)] out ServiceEntry service) =>
        _lookup.TryGetValue(name, out service);

    /// <summary>
    /// Builds the table for <paramref name="snapshot"/>. Endpoints that <paramref name="previous"/> already had (same
    /// service, instance and address) are carried over with their in-flight counters, so balancing stays accurate
    /// across updates.
    /// </summary>
    public static RouteTable FromSnapshot(EndpointSnapshot snapshot, RouteTable previous)
    {
        var services = new Dictionary<string, ServiceEntry>(snapshot.Services.Count, StringComparer.Ordinal);
        var endpointCount = 0;
        foreach (var route in snapshot.Services)
        {
            if (route.Name.Length == 0)
            {
                continue;
            }

            previous._services.TryGetValue(route.Name, out var old);
            var endpoints = new List<EndpointState>(route.Endpoints.Count);
            foreach (var endpoint in route.Endpoints)
            {
                if (!IsAddress(endpoint.Address))
                {
                    continue;
                }

                endpoints.Add(FindPrevious(old, endpoint) ?? new EndpointState(endpoint.InstanceId, endpoint.Address, endpoint.Node));
            }

            var keepalive = TimeSpan.FromMilliseconds(route.KeepaliveMs > 0 ? route.KeepaliveMs : DefaultKeepaliveMs);
            services[route.Name] = new ServiceEntry(route.Name, route.TokenSha256.ToByteArray(), keepalive, [.. endpoints]);
            endpointCount += endpoints.Count;
        }

        return new RouteTable(snapshot.Revision, received: true, services, endpointCount);
    }

    private static EndpointState? FindPrevious(ServiceEntry? old, Contracts.V1.Endpoint endpoint)
    {
        if (old is null)
        {
            return null;
        }

        foreach (var candidate in old.Endpoints)
        {
            if (candidate.InstanceId == endpoint.InstanceId && candidate.Address == endpoint.Address)
            {
                return candidate;
            }
        }

        return null;
    }

    // host:port that forms a valid http:// authority; anything else would fail every request it got.
    private static bool IsAddress(string address) =>
        address.Length > 0
        && Uri.TryCreate("http://" + address + "/", UriKind.Absolute, out var uri)
        && uri.Authority.Length > 0
        && uri.AbsolutePath == "/";
}
