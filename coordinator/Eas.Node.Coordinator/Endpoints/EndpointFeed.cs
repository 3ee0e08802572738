using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Store;
using Google.Protobuf;

namespace Eas.Node.Coordinator.Endpoints;

/// <summary>
/// Keeps the current routing snapshot for gateways: every service with its token hash, keepalive and
/// Ready endpoints. Rebuilt after each store commit that touches services, instances or nodes, and
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
            if ((commit.Kinds & (StoreObjectKinds.Services | StoreObjectKinds.Instances | StoreObjectKinds.Nodes)) != 0)
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
        var snapshot = new EndpointSnapshot();
        foreach (var service in await _store.ListServicesAsync(cancellationToken))
        {
            if (service.Deleting)
            {
                continue;
            }

            var spec = await _specs.GetAsync(service.Name, service.Version, cancellationToken);
            var route = new ServiceRoute
            {
                Name = service.Name,
                TokenSha256 = ByteString.CopyFrom(SHA256.HashData(Encoding.UTF8.GetBytes(service.Token))),
                KeepaliveMs = spec?.KeepaliveMs ?? 5000,
                Version = service.Version,
            };
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
        }

        return snapshot;
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
                if (revision > 0 && previous.Snapshot.Services.Equals(snapshot.Services))
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
