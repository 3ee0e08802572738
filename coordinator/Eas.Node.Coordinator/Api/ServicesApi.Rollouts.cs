using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Store;
using Grpc.Core;

namespace Eas.Node.Coordinator.Api;

/// <summary>Rolling restarts and rollbacks: each makes a version current and lets the reconciler roll to it.</summary>
public sealed partial class ServicesApi
{
    /// <inheritdoc />
    public override async Task<ServiceInfo> RestartService(ServiceRef request, ServerCallContext context)
    {
        RequireName(request.Name);
        var ct = context.CancellationToken;
        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            var service = await RequireChangeableAsync(request.Name, ct);
            var current = await store.GetServiceVersionAsync(service.Name, service.Version, ct)
                ?? throw new RpcException(new Grpc.Core.Status(StatusCode.Internal, $"service '{service.Name}' has no stored version {service.Version}"));
            var now = time.GetUtcNow();
            var version = service.NextVersion;
            var transaction = new StoreTransaction()
                .Put(RollingTo(service, version, now))
                .Put(current with { Version = version, CreatedAt = now })
                .Append(new EventRecord(0, now, service.Name, "", "Restarted", $"rolling restart: version {version} (the spec of version {service.Version}) replaces every instance", ""));
            if ((await store.CommitAsync(transaction, ct)).Succeeded)
            {
                ApiLog.Changed(logger, service.Name, $"rolling restart to version {version}");
                trigger.Signal();
                return await InfoAsync(service.Name, ct);
            }
        }

        throw Contention(request.Name);
    }

    /// <inheritdoc />
    public override async Task<ServiceInfo> RollbackService(RollbackServiceRequest request, ServerCallContext context)
    {
        RequireName(request.Name);
        var ct = context.CancellationToken;
        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            var service = await RequireChangeableAsync(request.Name, ct);
            var target = request.ToVersion != 0 ? request.ToVersion : service.PreviousVersion;
            if (target == 0)
            {
                throw new RpcException(new Grpc.Core.Status(StatusCode.FailedPrecondition,
                    $"service '{service.Name}' has no earlier version to roll back to (it is at version {service.Version}); give one with --to"));
            }

            if (target == service.Version)
            {
                throw new RpcException(new Grpc.Core.Status(StatusCode.FailedPrecondition,
                    $"to_version: service '{service.Name}' already runs version {target}; give an earlier version"));
            }

            var targetSpec = await specs.GetAsync(service.Name, target, ct)
                ?? throw new RpcException(new Grpc.Core.Status(StatusCode.NotFound,
                    $"to_version: service '{service.Name}' has no version {target}; versions run from 1 to {Math.Max(service.Version, service.LatestVersion)}"));
            var now = time.GetUtcNow();

            // The version rolled back to may name another group (or type): membership follows the current version.
            var groupChanges = new StoreTransaction();
            var rolling = await MoveGroupAsync(groupChanges, RollingTo(service, target, now), targetSpec.Group ?? "", targetSpec.Type, now, ct);
            if (targetSpec.IsLlmGateway)
            {
                rolling = rolling with { Replicas = 0 };
            }

            var transaction = new StoreTransaction()
                .Put(rolling)
                .Append(new EventRecord(0, now, service.Name, "", "RolledBack", $"rolled back from version {service.Version} to version {target}", ""))
                .Include(groupChanges);
            if ((await store.CommitAsync(transaction, ct)).Succeeded)
            {
                ApiLog.Changed(logger, service.Name, $"rolled back from version {service.Version} to {target}");
                trigger.Signal();
                return await InfoAsync(service.Name, ct);
            }
        }

        throw Contention(request.Name);
    }

    /// <inheritdoc />
    public override Task<NodeInfo> CordonNode(NodeRef request, ServerCallContext context) =>
        UpdateNodeAsync(request.Name, node => node.Cordoned ? null : (node with { Cordoned = true }, "Cordoned", "cordoned: no new instance is placed here"), context.CancellationToken);

    /// <inheritdoc />
    public override Task<NodeInfo> UncordonNode(NodeRef request, ServerCallContext context) =>
        UpdateNodeAsync(request.Name, node => !node.Cordoned && !node.Draining
            ? null
            : (node with { Cordoned = false, Draining = false }, "Uncordoned", "uncordoned: the node takes new instances again"), context.CancellationToken);

    /// <inheritdoc />
    public override Task<NodeInfo> DrainNode(NodeRef request, ServerCallContext context) =>
        UpdateNodeAsync(request.Name, node => node.Draining
            ? null
            : (node with { Cordoned = true, Draining = true }, "Draining", "draining: every instance here is replaced elsewhere, then stopped"), context.CancellationToken);

    /// <summary>The service as it is when <paramref name="version"/> becomes current and a rollout to it starts.</summary>
    private static ServiceRecord RollingTo(ServiceRecord service, int version, DateTimeOffset now) => service with
    {
        Version = version,
        LatestVersion = Math.Max(Math.Max(service.LatestVersion, service.Version), version),
        PreviousVersion = service.Version,
        RolloutActive = true,
        RolloutPaused = "",
        UpdatedAt = now,
    };

    private async Task<ServiceRecord> RequireChangeableAsync(string name, CancellationToken ct)
    {
        var service = await GetServiceAsync(name, ct);
        return service.Deleting
            ? throw new RpcException(new Grpc.Core.Status(StatusCode.FailedPrecondition, $"service '{service.Name}' is being deleted; create it again once it is gone"))
            : service;
    }

    private async Task<NodeInfo> UpdateNodeAsync(string name, Func<NodeRecord, (NodeRecord Updated, string Type, string Message)?> change, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, "name: must not be empty; give the node name (easctl nodes lists them)"));
        }

        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            var node = await store.GetNodeAsync(name, ct)
                ?? throw new RpcException(new Grpc.Core.Status(StatusCode.NotFound, $"node '{name}' is not known; easctl nodes lists the nodes there are"));
            if (change(node) is not { } update)
            {
                return await NodeInfoAsync(node, ct);
            }

            var now = time.GetUtcNow();
            var transaction = new StoreTransaction()
                .Put(update.Updated)
                .Append(new EventRecord(0, now, "", "", update.Type, $"node {name} {update.Message}", name));
            if ((await store.CommitAsync(transaction, ct)).Succeeded)
            {
                ApiLog.NodeChanged(logger, name, update.Message);
                trigger.Signal();
                return await NodeInfoAsync(update.Updated, ct);
            }
        }

        throw new RpcException(new Grpc.Core.Status(StatusCode.Aborted, $"node '{name}' changed too often while this request was applied; retry"));
    }

    private async Task<NodeInfo> NodeInfoAsync(NodeRecord node, CancellationToken ct)
    {
        var instances = (await store.ListInstancesAsync(null, ct)).Where(i => i.Node == node.Name && i.State != InstanceState.Stopped).ToList();
        return await NodeInfoAsync(node, instances, ct);
    }

    private async Task<NodeInfo> NodeInfoAsync(NodeRecord node, IReadOnlyList<InstanceRecord> instances, CancellationToken ct)
    {
        var info = new NodeInfo
        {
            Name = node.Name,
            Address = node.Address,
            Status = node.DisplayStatus,
            Cordoned = node.Cordoned,
            Draining = node.Draining,
            CpuMillis = node.CpuMillis,
            MemoryMib = node.MemoryMib,
            InstanceCount = instances.Count,
            LastHeartbeat = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(node.LastHeartbeat),
            AgentVersion = node.AgentVersion,
        };
        foreach (var instance in instances)
        {
            var spec = await specs.GetAsync(instance.Service, instance.ServiceVersion, ct);
            info.AllocatedCpuMillis += spec?.CpuMillis ?? 0;
            info.AllocatedMemoryMib += spec?.MemoryMb ?? 0;
        }

        foreach (var (key, value) in node.Labels)
        {
            info.Labels[key] = value;
        }

        ServiceViews.AddGpus(info, node, instances, hub.LatestGpuReport(node.Name));
        return info;
    }
}
