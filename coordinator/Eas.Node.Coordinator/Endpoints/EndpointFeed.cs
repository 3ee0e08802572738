using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Store;
using Eas.Node.Spec;
using Google.Protobuf;

namespace Eas.Node.Coordinator.Endpoints;

/// <summary>
/// Keeps the current routing snapshot for gateways: every service with its token hash, keepalive, limits, group
/// place and Ready endpoints, and every service group with its traffic mode and routing. Rebuilt after each store commit that touches services, instances or nodes, and
/// published (with a new revision) only when the routes differ, so gateways see every change to the
/// Ready set or the tokens and nothing else.
/// </summary>
public sealed class EndpointFeed : BackgroundService
{
    private readonly ICoordinatorStore _store;
    private readonly SpecCatalog _specs;
    private readonly ILogger<EndpointFeed> _logger;
    private readonly Channel<bool> _dirty = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile Published _current = new(new EndpointSnapshot(), new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>Creates the feed and starts listening to store commits.</summary>
    public EndpointFeed(ICoordinatorStore store, SpecCatalog specs, ILogger<EndpointFeed> logger)
    {
        _store = store;
        _specs = specs;
        _logger = logger;
        store.Committed += commit =>
        {
            if ((commit.Kinds & (StoreObjectKinds.Services | StoreObjectKinds.Instances | StoreObjectKinds.Nodes | StoreObjectKinds.Groups)) != 0)
            {
                _dirty.Writer.TryWrite(true);
            }
        };
    }

    /// <summary>The current snapshot, then each new one as it is published, until cancelled.</summary>
    public async IAsyncEnumerable<EndpointSnapshot> WatchAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await _ready.Task.WaitAsync(cancellationToken);
        var published = _current;
        while (true)
        {
            yield return published.Snapshot;
            await published.Next.Task.WaitAsync(cancellationToken);
            published = _current;
        }
    }

    /// <summary>Builds the snapshot from the store (revision 0; the feed assigns revisions when it publishes).</summary>
    public async Task<EndpointSnapshot> BuildAsync(CancellationToken cancellationToken)
    {
        var nodes = (await _store.ListNodesAsync(cancellationToken)).ToDictionary(n => n.Name, StringComparer.Ordinal);
        var instances = (await _store.ListInstancesAsync(null, cancellationToken)).ToLookup(i => i.Service, StringComparer.Ordinal);
        var groups = (await _store.ListGroupsAsync(cancellationToken)).ToDictionary(g => g.Name, StringComparer.Ordinal);
        var members = new Dictionary<string, List<GroupTraffic.Member>>(StringComparer.Ordinal);
        var snapshot = new EndpointSnapshot();
        foreach (var service in await _store.ListServicesAsync(cancellationToken))
        {
            if (service.Deleting)
            {
                continue;
            }

            var spec = await _specs.GetAsync(service.Name, service.Version, cancellationToken);
            var route = Route(service, spec);
            foreach (var instance in instances[service.Name].OrderBy(i => i.Id, StringComparer.Ordinal))
            {
                // Removing instances leave the gateway first, before their agent is told to stop them. An
                // instance on a Down node keeps its last known state: its agent may be the only thing that
                // died (conmon keeps instances serving), so it stays routed until its replacement is Ready
                // elsewhere and the reconciler removes it.
                if (instance.State != InstanceState.Ready || instance.Removing || instance.Node is null
                    || !nodes.TryGetValue(instance.Node, out var node))
                {
                    continue;
                }

                var host = string.IsNullOrEmpty(instance.Ip) ? node.Address : instance.Ip;
                if (string.IsNullOrEmpty(host) || instance.Port <= 0)
                {
                    continue;
                }

                route.Endpoints.Add(new Contracts.V1.Endpoint { InstanceId = instance.Id, Address = $"{host}:{instance.Port}", Node = node.Name });
            }

            snapshot.Services.Add(route);
            if (service.Group.Length > 0)
            {
                if (!members.TryGetValue(service.Group, out var list))
                {
                    members[service.Group] = list = [];
                }

                list.Add(new GroupTraffic.Member(service, spec, route.Endpoints.Count));
            }
        }

        foreach (var (name, list) in members.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            snapshot.Groups.Add(new GroupRoute
            {
                Name = name,
                TrafficMode = groups.TryGetValue(name, out var group) && group.TrafficMode == GroupTrafficMode.Customized ? TrafficMode.Customized : TrafficMode.Auto,
                Routing = GroupTraffic.UsesLlmRouting(list) ? RoutingPolicy.Llm : RoutingPolicy.LeastRequests,
            });
        }

        return snapshot;
    }

    /// <summary>A service's route without its endpoints: token, limits, protocol, records, routing and group place.</summary>
    internal static ServiceRoute Route(ServiceRecord service, ServiceSpec? spec)
    {
        var route = new ServiceRoute
        {
            Name = service.Name,
            TokenSha256 = ByteString.CopyFrom(SHA256.HashData(Encoding.UTF8.GetBytes(service.Token))),
            KeepaliveMs = spec?.KeepaliveMs ?? 5000,
            Version = service.Version,
            Group = service.Group,
            GroupWeight = service.Group.Length > 0 ? service.GroupWeight : 0,
            Standalone = service.Group.Length > 0 && service.TrafficState == MemberTrafficState.Standalone,
            Grpc = spec?.EnableGrpc ?? false,
            InstanceRateLimit = spec?.RateLimit ?? 0,
            MaxQueueSize = spec?.MaxQueueSize ?? ServiceSpec.DefaultMaxQueueSize,
            ServiceRateLimit = spec?.GatewayRateLimit?.Effective ?? 0,
            ConcurrencyLimit = spec?.GatewayConcurrencyLimit?.Effective ?? 0,
            Routing = spec?.Routing switch
            {
                ServiceRouting.RoundRobin => RoutingPolicy.RoundRobin,
                ServiceRouting.Llm => RoutingPolicy.Llm,
                _ => RoutingPolicy.LeastRequests,
            },
            Type = service.Type,
        };
        if (spec?.Sinker is { } sinker)
        {
            route.Sinker = new Sinker { Type = sinker.Type, OtlpEndpoint = sinker.Endpoint ?? "", MaxBodyBytes = sinker.MaxBodyBytes };
        }

        return route;
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var revision = 0L;
        _dirty.Writer.TryWrite(true);
        try
        {
            while (await _dirty.Reader.WaitToReadAsync(stoppingToken))
            {
                _dirty.Reader.TryRead(out _);
                EndpointSnapshot snapshot;
                try
                {
                    snapshot = await BuildAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    EndpointFeedLog.BuildFailed(_logger, ex);
                    continue;
                }

                var previous = _current;
                if (revision > 0 && previous.Snapshot.Services.Equals(snapshot.Services) && previous.Snapshot.Groups.Equals(snapshot.Groups))
                {
                    continue;
                }

                snapshot.Revision = ++revision;
                _current = new Published(snapshot, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                previous.Next.TrySetResult();
                _ready.TrySetResult();
                EndpointFeedLog.Published(_logger, revision, snapshot.Services.Count, snapshot.Services.Sum(s => s.Endpoints.Count));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private sealed record Published(EndpointSnapshot Snapshot, TaskCompletionSource Next);
}
