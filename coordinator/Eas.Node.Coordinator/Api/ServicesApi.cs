using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Events;
using Eas.Node.Coordinator.Hosting;
using Eas.Node.Coordinator.Nodes;
using Eas.Node.Coordinator.Reconciler;
using Eas.Node.Coordinator.Store;
using Eas.Node.Spec;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace Eas.Node.Coordinator.Api;

/// <summary>
/// eas.v1.Services, the admin API. Every write is committed to the store (compare-and-set on what was
/// read, retried on conflict) before the call answers, then the reconciler is woken; nothing here
/// waits for instances to start.
/// </summary>
public sealed partial class ServicesApi(
    ICoordinatorStore store,
    SpecCatalog specs,
    NodeHub hub,
    ReconcileTrigger trigger,
    EventBroadcaster broadcaster,
    TimeProvider time,
    PublicEndpoint publicEndpoint,
    IOptions<CoordinatorOptions> options,
    IHostApplicationLifetime lifetime,
    ILogger<ServicesApi> logger) : Services.ServicesBase
{
    /// <summary>How long GetLogs waits for an agent to answer.</summary>
    public static readonly TimeSpan LogTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The largest instance count a service may ask for.</summary>
    public const int MaxInstances = 1000;

    private const int CasAttempts = 10;

    /// <inheritdoc />
    public override async Task<ServiceInfo> CreateService(CreateServiceRequest request, ServerCallContext context)
    {
        var spec = Parse(request.SpecJson, out var warnings);
        var ct = context.CancellationToken;
        await RequireGpusExistAsync(spec, ct);
        var token = spec.Token ?? ServiceTokens.Generate();
        var stored = spec with { Token = null };
        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            var now = time.GetUtcNow();
            var groupChanges = new StoreTransaction();
            var service = await MoveGroupAsync(groupChanges, new ServiceRecord
            {
                Name = spec.Name,
                Version = 1,
                Token = token,
                Replicas = spec.Instance,
                CreatedAt = now,
                UpdatedAt = now,
            }, spec.Group ?? "", spec.Type, now, ct);
            var what = spec.IsLlmGateway ? $"the LLM router of group {spec.Group} (no instances)" : $"{spec.Instance} instance(s)";
            var transaction = new StoreTransaction()
                .Put(service)
                .Put(new ServiceVersionRecord(spec.Name, 1, SpecWriter.ToJson(stored, includeToken: false), warnings, now))
                .Append(new EventRecord(0, now, spec.Name, "", "Created", $"created version 1 with {what}", ""))
                .Include(groupChanges);
            var result = await store.CommitAsync(transaction, ct);
            if (!result.Succeeded && result.Conflict?.StartsWith("groups/", StringComparison.Ordinal) == true)
            {
                // Another member joined or left the group meanwhile: read it again.
                continue;
            }

            if (!result.Succeeded)
            {
                var existing = await store.GetServiceAsync(spec.Name, ct);
                var why = existing?.Deleting == true ? " and is being deleted; wait until it is gone" : "; use modify to change it, or delete it first";
                throw new RpcException(new Grpc.Core.Status(StatusCode.AlreadyExists, $"service '{spec.Name}' already exists{why}"));
            }

            specs.Remember(spec.Name, 1, stored);
            ApiLog.Created(logger, spec.Name, 1, spec.Instance);
            trigger.Signal();
            return await InfoAsync(spec.Name, ct);
        }

        throw Contention(spec.Name);
    }

    /// <inheritdoc />
    public override async Task<ServiceInfo> ModifyService(ModifyServiceRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        RequireName(request.Name);
        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            var service = await GetServiceAsync(request.Name, ct);
            if (service.Deleting)
            {
                throw new RpcException(new Grpc.Core.Status(StatusCode.FailedPrecondition, $"service '{service.Name}' is being deleted; create it again once it is gone"));
            }

            var current = await specs.GetAsync(service.Name, service.Version, ct)
                ?? throw new RpcException(new Grpc.Core.Status(StatusCode.Internal, $"service '{service.Name}' has no stored version {service.Version}"));
            var baseJson = SpecWriter.ToJson(current with { Instance = service.Replicas, Token = service.Token }, includeToken: true);
            string merged;
            try
            {
                // With replace, easctl already merged and validated locally and sends the whole spec; merging it
                // onto the stored one again would bring back keys the user removed.
                merged = request.Replace ? request.SpecJson : SpecDocument.Merge(baseJson, request.SpecJson);
            }
            catch (SpecDocumentException ex)
            {
                throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, ex.Message));
            }

            var spec = Parse(merged, out var warnings);
            await RequireGpusExistAsync(spec, ct);
            if (spec.Name != service.Name)
            {
                throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument,
                    $"metadata.name: '{spec.Name}' differs from the service being modified ('{service.Name}'); a service cannot be renamed, create a new one instead"));
            }

            var now = time.GetUtcNow();
            var currentStored = current with { Token = null };
            var stored = spec with { Token = null };
            var token = spec.Token ?? service.Token;
            StoreTransaction transaction;
            if (stored with { Instance = currentStored.Instance } == currentStored)
            {
                // Only the instance count (and maybe the token) changed: a scale, not a new version to roll out.
                transaction = new StoreTransaction()
                    .Put(service with { Replicas = spec.Instance, Token = token, UpdatedAt = now })
                    .Append(new EventRecord(0, now, service.Name, "", "Scaled", $"scaled from {service.Replicas} to {spec.Instance} instance(s) by modify", ""));
                if ((await store.CommitAsync(transaction, ct)).Succeeded)
                {
                    ApiLog.Changed(logger, service.Name, $"scaled to {spec.Instance} by modify");
                    trigger.Signal();
                    return await InfoAsync(service.Name, ct);
                }

                continue;
            }

            var version = service.NextVersion;
            var groupChanges = new StoreTransaction();
            var rolling = await MoveGroupAsync(groupChanges, RollingTo(service, version, now) with { Replicas = spec.Instance, Token = token }, spec.Group ?? "", spec.Type, now, ct);
            transaction = new StoreTransaction()
                .Put(rolling)
                .Put(new ServiceVersionRecord(service.Name, version, SpecWriter.ToJson(stored, includeToken: false), warnings, now))
                .Append(new EventRecord(0, now, service.Name, "", "Modified", $"modified to version {version}; rolling update from version {service.Version}", ""))
                .Include(groupChanges);
            if ((await store.CommitAsync(transaction, ct)).Succeeded)
            {
                specs.Remember(service.Name, version, stored);
                ApiLog.Modified(logger, service.Name, version);
                trigger.Signal();
                return await InfoAsync(service.Name, ct);
            }
        }

        throw Contention(request.Name);
    }

    /// <inheritdoc />
    public override async Task<ServiceInfo> DescribeService(ServiceRef request, ServerCallContext context)
    {
        RequireName(request.Name);
        return await InfoAsync(request.Name, context.CancellationToken);
    }

    /// <inheritdoc />
    public override async Task<ListServicesResponse> ListServices(ListServicesRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var instances = (await store.ListInstancesAsync(null, ct)).ToLookup(i => i.Service, StringComparer.Ordinal);
        var response = new ListServicesResponse();
        foreach (var service in await store.ListServicesAsync(ct))
        {
            response.Services.Add(await InfoAsync(service, [.. instances[service.Name]], ct));
        }

        return response;
    }

    /// <inheritdoc />
    public override async Task<DeleteServiceResponse> DeleteService(ServiceRef request, ServerCallContext context)
    {
        RequireName(request.Name);
        var ct = context.CancellationToken;
        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            var service = await GetServiceAsync(request.Name, ct);
            if (service.Deleting)
            {
                return new DeleteServiceResponse { Name = request.Name };
            }

            // It leaves its group at once (the group goes with its last member); its instances stop in the background.
            var now = time.GetUtcNow();
            var groupChanges = new StoreTransaction();
            var leaving = await MoveGroupAsync(groupChanges, service, "", service.Type, now, ct);
            var transaction = new StoreTransaction()
                .Put(leaving with { Deleting = true, UpdatedAt = now })
                .Append(new EventRecord(0, now, service.Name, "", "Deleted", "deletion requested; stopping every instance", ""))
                .Include(groupChanges);
            if ((await store.CommitAsync(transaction, ct)).Succeeded)
            {
                ApiLog.Changed(logger, service.Name, "deletion requested; stopping every instance");
                trigger.Signal();
                return new DeleteServiceResponse { Name = request.Name };
            }
        }

        throw Contention(request.Name);
    }

    /// <inheritdoc />
    public override async Task<ServiceInfo> StartService(ServiceRef request, ServerCallContext context)
    {
        RequireName(request.Name);
        await UpdateServiceAsync(request.Name, service => !service.Stopped
            ? null
            : (service with { Stopped = false }, new("Started", $"start requested: {service.Replicas} instance(s)")), context.CancellationToken);
        return await InfoAsync(request.Name, context.CancellationToken);
    }

    /// <inheritdoc />
    public override async Task<ServiceInfo> StopService(ServiceRef request, ServerCallContext context)
    {
        RequireName(request.Name);
        await UpdateServiceAsync(request.Name, service => service.Stopped
            ? null
            : (service with { Stopped = true }, new("Stopping", $"stop requested; {service.Replicas} instance(s) remembered for start")), context.CancellationToken);
        return await InfoAsync(request.Name, context.CancellationToken);
    }

    /// <inheritdoc />
    public override async Task<ServiceInfo> ScaleService(ScaleServiceRequest request, ServerCallContext context)
    {
        RequireName(request.Name);
        if (request.Instances is < 0 or > MaxInstances)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument,
                $"instances: {request.Instances} is out of range; give a count from 0 to {MaxInstances}"));
        }

        await UpdateServiceAsync(request.Name, service =>
        {
            if (service.IsLlmGateway)
            {
                throw new RpcException(new Grpc.Core.Status(StatusCode.FailedPrecondition,
                    $"service '{service.Name}' is an LLMGatewayService: it runs no instances, the gateway routes its group {service.Group}; scale the group's inference services instead"));
            }

            if (service.Replicas == request.Instances)
            {
                return null;
            }

            return (service with { Replicas = request.Instances }, new("Scaled", $"scaled from {service.Replicas} to {request.Instances} instance(s)"));
        }, context.CancellationToken);
        return await InfoAsync(request.Name, context.CancellationToken);
    }

    /// <inheritdoc />
    public override async Task<ListInstancesResponse> ListInstances(ServiceRef request, ServerCallContext context)
    {
        RequireName(request.Name);
        var ct = context.CancellationToken;
        await GetServiceAsync(request.Name, ct);
        var response = new ListInstancesResponse();
        response.Instances.AddRange((await store.ListInstancesAsync(request.Name, ct)).Select(i => ServiceViews.Instance(i, hub.GpuUsageOf(i))));
        return response;
    }

    /// <inheritdoc />
    public override async Task<ListInstancesResponse> RestartInstance(RestartInstanceRequest request, ServerCallContext context)
    {
        RequireName(request.Service);
        var ct = context.CancellationToken;
        await GetServiceAsync(request.Service, ct);
        var targets = (await store.ListInstancesAsync(request.Service, ct))
            .Where(i => !i.Removing && (request.InstanceId.Length == 0 || i.Id == request.InstanceId))
            .Select(i => i.Id)
            .ToList();
        if (request.InstanceId.Length > 0 && targets.Count == 0)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.NotFound,
                $"instance '{request.InstanceId}' is not a running instance of service '{request.Service}'; list them with ListInstances"));
        }

        foreach (var id in targets)
        {
            for (var attempt = 0; ; attempt++)
            {
                var instance = await store.GetInstanceAsync(id, ct);
                if (instance is null || instance.Removing)
                {
                    break;
                }

                if ((await store.CommitAsync(new StoreTransaction().Put(instance with { RestartNonce = instance.RestartNonce + 1 }), ct)).Succeeded)
                {
                    break;
                }

                if (attempt >= CasAttempts)
                {
                    throw Contention(request.Service);
                }
            }
        }

        trigger.Signal();
        var response = new ListInstancesResponse();
        response.Instances.AddRange((await store.ListInstancesAsync(request.Service, ct)).Select(i => ServiceViews.Instance(i, hub.GpuUsageOf(i))));
        return response;
    }

    /// <inheritdoc />
    public override async Task<ListNodesResponse> ListNodes(ListNodesRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var instances = (await store.ListInstancesAsync(null, ct))
            .Where(i => i.Node is not null && i.State != InstanceState.Stopped)
            .ToLookup(i => i.Node!, StringComparer.Ordinal);
        var response = new ListNodesResponse();
        foreach (var node in await store.ListNodesAsync(ct))
        {
            response.Nodes.Add(await NodeInfoAsync(node, [.. instances[node.Name]], ct));
        }

        return response;
    }

    /// <inheritdoc />
    public override async Task<ListEventsResponse> ListEvents(ListEventsRequest request, ServerCallContext context)
    {
        if (request.Limit < 0)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, $"limit: {request.Limit} is negative; give 0 for all events or a positive count"));
        }

        var events = await store.ListEventsAsync(EmptyAsNull(request.Service), 0, request.Limit, context.CancellationToken);
        var response = new ListEventsResponse();
        response.Events.AddRange(events.Select(ServiceViews.Event));
        return response;
    }

    /// <inheritdoc />
    public override async Task WatchEvents(WatchEventsRequest request, IServerStreamWriter<Event> responseStream, ServerCallContext context)
    {
        // The stream ends when the coordinator stops, so shutdown does not wait for watchers to hang up.
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        var ct = linked.Token;
        var service = EmptyAsNull(request.Service);

        // Subscribe before reading the backlog, so an event committed in between is in one of the two.
        using var subscription = broadcaster.Subscribe();
        var last = request.AfterSeq;
        try
        {
            foreach (var record in await store.ListEventsAsync(service, last, 0, ct))
            {
                await responseStream.WriteAsync(ServiceViews.Event(record), ct);
                last = record.Seq;
            }

            await foreach (var record in subscription.Reader.ReadAllAsync(ct))
            {
                if (record.Seq > last && (service is null || record.Service == service))
                {
                    await responseStream.WriteAsync(ServiceViews.Event(record), ct);
                    last = record.Seq;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The client went away.
        }
    }

    /// <inheritdoc />
    public override async Task<GetLogsResponse> GetLogs(GetLogsRequest request, ServerCallContext context)
    {
        RequireName(request.Service);
        var ct = context.CancellationToken;
        await GetServiceAsync(request.Service, ct);
        var instances = (await store.ListInstancesAsync(request.Service, ct))
            .Where(i => request.InstanceId.Length == 0 ? !i.Removing : i.Id == request.InstanceId)
            .ToList();
        if (request.InstanceId.Length > 0 && instances.Count == 0)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.NotFound,
                $"instance '{request.InstanceId}' is not an instance of service '{request.Service}'; list them with ListInstances"));
        }

        var logs = await Task.WhenAll(instances.Select(async instance =>
        {
            if (instance.Node is null)
            {
                return new InstanceLog { InstanceId = instance.Id, Error = "not scheduled on a node yet, so it has no output" };
            }

            var answer = await hub.RequestLogsAsync(instance.Node, instance.Id, request.TailLines, LogTimeout, ct);
            var log = new InstanceLog { InstanceId = instance.Id, Node = instance.Node, Error = answer.Error };
            log.Lines.AddRange(answer.Lines);
            return log;
        }));
        var response = new GetLogsResponse();
        response.Logs.AddRange(logs);
        return response;
    }

    /// <summary>
    /// Refuses GPU work no node could ever run: a slice larger than every GPU (or MIG device) in the cluster,
    /// or more whole GPUs than any node has. A cluster without any GPU yet refuses nothing (agents may
    /// still be starting); such instances stay Pending and say why.
    /// </summary>
    private async Task RequireGpusExistAsync(ServiceSpec spec, CancellationToken ct)
    {
        if (!spec.UsesGpu)
        {
            return;
        }

        var nodes = (await store.ListNodesAsync(ct)).Where(n => n.Gpus.Count > 0).ToList();
        if (nodes.Count == 0)
        {
            return;
        }

        if (spec.Gpu > 0)
        {
            var most = nodes.MaxBy(n => n.Gpus.Count(g => !g.MigEnabled))!;
            var count = most.Gpus.Count(g => !g.MigEnabled);
            if (spec.Gpu > count)
            {
                throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument,
                    $"metadata.gpu: {spec.Gpu} GPUs per instance, but the node with the most has {count} (node {most.Name}); ask for at most {count}, or add a larger node"));
            }

            return;
        }

        var largest = nodes
            .SelectMany(n => n.Gpus.SelectMany(g => g.MigEnabled
                ? g.MigDevices.Select(m => (Node: n.Name, What: $"MIG device {m.Profile} of {g.Model}", m.MemoryMib))
                : [(Node: n.Name, What: g.Model, g.MemoryMib)]))
            .MaxBy(x => x.MemoryMib);
        if (spec.GpuMemoryMib > largest.MemoryMib)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument,
                $"metadata.gpu_memory: {spec.GpuMemoryGb} GB is more than the largest GPU in the cluster has ({largest.MemoryMib / 1024} GB, {largest.What} on node {largest.Node}); ask for at most {largest.MemoryMib / 1024} GB, or use metadata.gpu for whole GPUs"));
        }
    }

    private ServiceSpec Parse(string json, out IReadOnlyList<string> warnings)
    {
        var result = SpecParser.Parse(json);
        if (!result.IsValid)
        {
            var errors = result.Errors.Count > 0 ? string.Join('\n', result.Errors) : "$: the spec is not valid; check it with the spec reference";
            ApiLog.Rejected(logger, result.Spec?.Name ?? "?", result.Errors.Count);
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, errors));
        }

        warnings = [.. result.Warnings.Select(w => w.ToString())];
        return result.Spec!;
    }

    /// <summary>Applies <paramref name="change"/> with compare-and-set, retrying on conflict; a null change means nothing to do.</summary>
    private async Task UpdateServiceAsync(string name, Func<ServiceRecord, (ServiceRecord Updated, (string Type, string Message) Event)?> change, CancellationToken ct)
    {
        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            var service = await GetServiceAsync(name, ct);
            if (service.Deleting)
            {
                if (change(service) is null)
                {
                    return;
                }

                throw new RpcException(new Grpc.Core.Status(StatusCode.FailedPrecondition, $"service '{name}' is being deleted; create it again once it is gone"));
            }

            if (change(service) is not { } update)
            {
                return;
            }

            var now = time.GetUtcNow();
            var transaction = new StoreTransaction()
                .Put(update.Updated with { UpdatedAt = now })
                .Append(new EventRecord(0, now, name, "", update.Event.Type, update.Event.Message, ""));
            if ((await store.CommitAsync(transaction, ct)).Succeeded)
            {
                ApiLog.Changed(logger, name, update.Event.Message);
                trigger.Signal();
                return;
            }
        }

        throw Contention(name);
    }

    private async Task<ServiceRecord> GetServiceAsync(string name, CancellationToken ct) =>
        await store.GetServiceAsync(name, ct)
        ?? throw new RpcException(new Grpc.Core.Status(StatusCode.NotFound, $"service '{name}' does not exist; ListServices shows the services there are"));

    private async Task<ServiceInfo> InfoAsync(string name, CancellationToken ct)
    {
        var service = await GetServiceAsync(name, ct);
        return await InfoAsync(service, await store.ListInstancesAsync(name, ct), ct);
    }

    private async Task<ServiceInfo> InfoAsync(ServiceRecord service, IReadOnlyList<InstanceRecord> instances, CancellationToken ct)
    {
        var version = await store.GetServiceVersionAsync(service.Name, service.Version, ct);
        var spec = await specs.GetAsync(service.Name, service.Version, ct);
        var specJson = spec is null ? "" : SpecWriter.ToJson(spec with { Instance = service.Replicas, Token = service.Token }, includeToken: true);
        return ServiceViews.Info(service, version, specJson, instances, publicEndpoint.Value, hub.GpuUsageOf);
    }

    private static void RequireName(string name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, "name: must not be empty; give the service name"));
        }
    }

    private static RpcException Contention(string name) =>
        new(new Grpc.Core.Status(StatusCode.Aborted, $"service '{name}' changed too often while this request was applied; retry"));

    private static string? EmptyAsNull(string value) => string.IsNullOrEmpty(value) ? null : value;
}
