using System.Diagnostics.CodeAnalysis;
using Eas.Node.Contracts.V1;

namespace Eas.Node.Gateway.Routing;

/// <summary>An immutable routing table built from one <see cref="EndpointSnapshot"/>: services and service groups.</summary>
internal sealed class RouteTable
{
    /// <summary>EAS's default request timeout (metadata.rpc.keepalive) when a route does not say.</summary>
    public const int DefaultKeepaliveMs = 5000;

    private readonly Dictionary<string, ServiceEntry> _services;
    private readonly Dictionary<string, ServiceEntry>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly Dictionary<string, GroupEntry> _groups;
    private readonly Dictionary<string, GroupEntry>.AlternateLookup<ReadOnlySpan<char>> _groupLookup;
    private readonly Dictionary<string, GroupShared> _groupShared;

    private RouteTable(long revision, bool received, Dictionary<string, ServiceEntry> services, Dictionary<string, GroupEntry> groups, Dictionary<string, GroupShared> groupShared, int endpointCount)
    {
        Revision = revision;
        Received = received;
        _services = services;
        _lookup = services.GetAlternateLookup<ReadOnlySpan<char>>();
        _groups = groups;
        _groupLookup = groups.GetAlternateLookup<ReadOnlySpan<char>>();
        _groupShared = groupShared;
        EndpointCount = endpointCount;
    }

    /// <summary>The table before the first snapshot arrives.</summary>
    public static RouteTable Empty { get; } = new(
        0,
        received: false,
        new Dictionary<string, ServiceEntry>(StringComparer.Ordinal),
        new Dictionary<string, GroupEntry>(StringComparer.Ordinal),
        new Dictionary<string, GroupShared>(StringComparer.Ordinal),
        0);

    public long Revision { get; }

    /// <summary>False until the feed delivered a snapshot: the gateway is not ready yet.</summary>
    public bool Received { get; }

    public int ServiceCount => _services.Count;

    public int GroupCount => _groups.Count;

    public int EndpointCount { get; }

    public IEnumerable<ServiceEntry> Services => _services.Values;

    public IEnumerable<GroupEntry> Groups => _groups.Values;

    /// <summary>Looks a service up by its own name, without allocating a string for it.</summary>
    public bool TryGet(ReadOnlySpan<char> name, [MaybeNullWhen(false)] out ServiceEntry service) =>
        _lookup.TryGetValue(name, out service);

    /// <summary>Looks a group up by name.</summary>
    public bool TryGetGroup(ReadOnlySpan<char> name, [MaybeNullWhen(false)] out GroupEntry group) =>
        _groupLookup.TryGetValue(name, out group);

    /// <summary>
    /// Resolves the name in <c>/api/predict/&lt;name&gt;</c>: <c>&lt;group&gt;.&lt;service&gt;</c> is that member of that
    /// group; a group's name is the group (a group wins over a service of the same name); else a service's name.
    /// Exactly one of <paramref name="service"/> and <paramref name="group"/> is set when it returns true.
    /// </summary>
    public bool TryResolve(ReadOnlySpan<char> name, out ServiceEntry? service, out GroupEntry? group)
    {
        service = null;
        group = null;
        var dot = name.IndexOf('.');
        if (dot >= 0)
        {
            // Neither group nor service names contain a dot, so the first one splits them.
            if (_lookup.TryGetValue(name[(dot + 1)..], out var member)
                && member.Group is { } memberGroup
                && name[..dot].SequenceEqual(memberGroup))
            {
                service = member;
                return true;
            }

            return false;
        }

        if (_groups.Count > 0 && _groupLookup.TryGetValue(name, out group))
        {
            return true;
        }

        return _lookup.TryGetValue(name, out service);
    }

    /// <summary>
    /// Builds the table for <paramref name="snapshot"/>. Endpoints that <paramref name="previous"/> already had (same
    /// service, instance and address) are carried over with their in-flight counters and rate limiters, and each
    /// service's and group's shared state with them, so balancing and limits stay accurate across updates.
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

                var state = FindPrevious(old, endpoint) ?? new EndpointState(endpoint.InstanceId, endpoint.Address, endpoint.Node);
                state.RateLimiter = RateLimiter.For(route.InstanceRateLimit, state.RateLimiter);
                endpoints.Add(state);
            }

            var shared = old?.Shared ?? new ServiceShared();
            shared.RateLimiter = RateLimiter.For(route.ServiceRateLimit, shared.RateLimiter);
            var keepalive = TimeSpan.FromMilliseconds(route.KeepaliveMs > 0 ? route.KeepaliveMs : DefaultKeepaliveMs);
            services[route.Name] = new ServiceEntry(route.Name, route.TokenSha256.ToByteArray(), keepalive, [.. endpoints], route.Grpc)
            {
                Group = route.Group.Length > 0 ? route.Group : null,
                GroupWeight = route.GroupWeight,
                Standalone = route.Standalone,
                Routing = route.Routing,
                Type = route.Type,
                MaxQueueSize = route.MaxQueueSize > 0 ? route.MaxQueueSize : ServiceEntry.DefaultMaxQueueSize,
                InstanceRateLimit = Math.Max(0, route.InstanceRateLimit),
                ConcurrencyLimit = Math.Max(0, route.ConcurrencyLimit),
                Sinker = Records.SinkerSettings.From(route.Sinker),
                Shared = shared,
            };
            endpointCount += endpoints.Count;
        }

        var (groups, groupShared) = BuildGroups(snapshot, services, previous);
        return new RouteTable(snapshot.Revision, received: true, services, groups, groupShared, endpointCount);
    }

    private static (Dictionary<string, GroupEntry> Groups, Dictionary<string, GroupShared> Shared) BuildGroups(
        EndpointSnapshot snapshot, Dictionary<string, ServiceEntry> services, RouteTable previous)
    {
        var routes = new Dictionary<string, GroupRoute>(StringComparer.Ordinal);
        foreach (var route in snapshot.Groups)
        {
            if (route.Name.Length > 0)
            {
                routes[route.Name] = route;
            }
        }

        // A group exists while it has members; one that only the snapshot's groups list names routes nowhere.
        var members = new Dictionary<string, List<ServiceEntry>>(StringComparer.Ordinal);
        foreach (var service in services.Values)
        {
            if (service.Group is { } name)
            {
                if (!members.TryGetValue(name, out var list))
                {
                    members[name] = list = [];
                }

                list.Add(service);
            }
        }

        var groups = new Dictionary<string, GroupEntry>(members.Count, StringComparer.Ordinal);
        var shared = new Dictionary<string, GroupShared>(members.Count, StringComparer.Ordinal);
        foreach (var (name, list) in members)
        {
            list.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
            var route = routes.GetValueOrDefault(name);
            var state = previous._groupShared.GetValueOrDefault(name) ?? new GroupShared();
            shared[name] = state;
            groups[name] = new GroupEntry(name, route?.TrafficMode ?? TrafficMode.Auto, route?.Routing ?? RoutingPolicy.LeastRequests, [.. list], state);
        }

        return (groups, shared);
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
