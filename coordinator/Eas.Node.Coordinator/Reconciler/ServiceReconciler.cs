using System.Security.Cryptography;
using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Gpus;
using Eas.Node.Coordinator.Hosting;
using Eas.Node.Coordinator.Nodes;
using Eas.Node.Coordinator.Store;
using Eas.Node.Scheduler;
using Eas.Node.Spec;
using Microsoft.Extensions.Options;

namespace Eas.Node.Coordinator.Reconciler;

/// <summary>
/// Drives the store toward what users asked for. Woken by <see cref="ReconcileTrigger"/> (API writes,
/// agent reports, node liveness) and by a slow periodic pass; each pass creates and removes instances
/// per service, places pending ones with the scheduler, deletes services whose instances are all gone,
/// and then pushes every node's desired set. Passes repeat while they change something, so a create
/// reaches the agents without waiting for a timer.
/// </summary>
public sealed class ServiceReconciler(
    ICoordinatorStore store,
    SpecCatalog specs,
    NodeHub hub,
    InstanceScheduler scheduler,
    ReconcileTrigger trigger,
    TimeProvider time,
    IOptions<CoordinatorOptions> options,
    ILogger<ServiceReconciler> logger,
    Metrics.CoordinatorMetrics metrics) : BackgroundService
{
    private readonly TimeSpan _deregistrationDelay = TimeSpan.FromSeconds(options.Value.DeregistrationDelaySeconds);
    private readonly TimeSpan _progressDeadline = TimeSpan.FromSeconds(options.Value.RolloutProgressDeadlineSeconds);

    /// <summary>The safety-net pass interval, for anything a lost signal would otherwise leave undone.</summary>
    public static readonly TimeSpan PeriodicPass = TimeSpan.FromSeconds(30);

    /// <summary>Restarts of a new instance that was never Ready after which its rollout pauses.</summary>
    public const int RestartsBeforePause = 3;

    private const int MaxPassesPerSignal = 10;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var periodic = PeriodicAsync(stoppingToken);
        trigger.Signal();
        try
        {
            while (await trigger.WaitAsync(stoppingToken))
            {
                trigger.Consume();
                await RunPassesAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }

        await periodic;
    }

    /// <summary>Runs passes until one changes nothing, pushing desired sets after each; returns the number of passes.</summary>
    internal async Task<int> RunPassesAsync(CancellationToken cancellationToken)
    {
        var passes = 0;
        try
        {
            while (passes < MaxPassesPerSignal)
            {
                passes++;
                var changed = await PassAsync(cancellationToken);
                await hub.SyncAllAsync(cancellationToken);
                if (!changed)
                {
                    break;
                }
            }

            await WakeForDeadlinesAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            ReconcilerLog.PassFailed(logger, ex);
        }

        return passes;
    }

    /// <summary>
    /// Asks for a pass when the next removed instance's deregistration delay ends (its agent is told then),
    /// and when the oldest unready instance of a rollout reaches the progress deadline.
    /// </summary>
    private async Task WakeForDeadlinesAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var services = (await store.ListServicesAsync(cancellationToken)).ToDictionary(s => s.Name, StringComparer.Ordinal);
        DateTimeOffset? next = null;
        foreach (var instance in await store.ListInstancesAsync(null, cancellationToken))
        {
            DateTimeOffset? due = null;
            if (instance.Removing && instance.RemovingSince is { } since && since + _deregistrationDelay > now)
            {
                due = since + _deregistrationDelay;
            }
            else if (!instance.Removing && !instance.ReadyOnce && services.TryGetValue(instance.Service, out var service)
                && service.RolloutActive && service.RolloutPaused.Length == 0 && instance.CreatedAt + _progressDeadline > now)
            {
                due = instance.CreatedAt + _progressDeadline;
            }

            if (due is { } at && (next is null || at < next))
            {
                next = at;
            }
        }

        if (next is { } wake)
        {
            // A little after the deadline, so the pass sees it passed.
            trigger.SignalAfter(wake - now + TimeSpan.FromMilliseconds(20));
        }
    }

    private async Task PeriodicAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(PeriodicPass, time, stoppingToken);
                trigger.Signal();
            }
        }
        catch (OperationCanceledException)
        {
            // Shutting down.
        }
    }

    /// <summary>One pass over every service; true when it wrote anything.</summary>
    private async Task<bool> PassAsync(CancellationToken cancellationToken)
    {
        var changed = false;
        var services = await store.ListServicesAsync(cancellationToken);
        var nodes = (await store.ListNodesAsync(cancellationToken)).ToDictionary(n => n.Name, StringComparer.Ordinal);
        var instances = await store.ListInstancesAsync(null, cancellationToken);
        var byService = instances.ToLookup(i => i.Service, StringComparer.Ordinal);
        var ids = new HashSet<string>(instances.Select(i => i.Id), StringComparer.Ordinal);

        foreach (var service in services)
        {
            changed |= await ReconcileServiceAsync(service, [.. byService[service.Name]], nodes, ids, cancellationToken);
        }

        changed |= await ScheduleAsync(cancellationToken);
        return changed;
    }

    private async Task<bool> ReconcileServiceAsync(
        ServiceRecord service,
        IReadOnlyList<InstanceRecord> instances,
        IReadOnlyDictionary<string, NodeRecord> nodes,
        HashSet<string> ids,
        CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (service.Deleting && instances.Count == 0)
        {
            var deleted = await CommitAsync(new StoreTransaction().Delete(service), cancellationToken);
            if (deleted)
            {
                specs.Forget(service.Name);
                ReconcilerLog.Deleted(logger, service.Name);
            }

            return true;
        }

        var transaction = new StoreTransaction();

        // Instances on their way out leave the store once they are stopped, or at once when no agent
        // runs them (never placed, never started, or on a node that is gone).
        foreach (var instance in instances.Where(i => i.Removing))
        {
            var nodeGone = instance.Node is null || !nodes.TryGetValue(instance.Node, out var node) || node.Status == NodeStatus.Down;
            if (instance.State is InstanceState.Stopped or InstanceState.Pending || nodeGone)
            {
                transaction.Delete(instance);
            }
        }

        // An instance whose GPU turned unhealthy or vanished moves: it is removed, and the plan below
        // creates its replacement, which the scheduler places on healthy GPUs.
        var live = new List<InstanceRecord>();
        foreach (var instance in instances.Where(i => !i.Removing))
        {
            var lost = instance.Node is not null && nodes.TryGetValue(instance.Node, out var node) ? GpuMapping.LostGpuReason(instance.Gpu, node) : null;
            if (lost is null)
            {
                live.Add(instance);
                continue;
            }

            ReconcilerLog.Moving(logger, service.Name, instance.Id, lost);
            transaction
                .Put(instance with { Removing = true, RemovingSince = now, Reason = lost, ChangedAt = now })
                .Append(new EventRecord(0, now, service.Name, instance.Id, "Rescheduled", $"moving to healthy GPUs: {lost}", instance.Node!));
        }

        var spec = await specs.GetAsync(service.Name, service.Version, cancellationToken);
        service = TrackRollout(service, live, nodes, now, transaction);
        // An LLMGatewayService has no container: nothing to place, whatever its desired count says.
        var planned = spec is { RunsInstances: false } ? service with { Replicas = 0 } : service;
        var plan = InstancePlanner.Plan(planned, live, spec?.RollingStrategy ?? RollingStrategy.Default, nodes);
        foreach (var instance in plan.Remove)
        {
            ReconcilerLog.Removing(logger, service.Name, instance.Id);
            transaction.Put(instance with { Removing = true, RemovingSince = now, ChangedAt = now });
        }

        for (var i = 0; i < plan.Create; i++)
        {
            var id = NewInstanceId(service.Name, ids);
            ReconcilerLog.Created(logger, service.Name, id, service.Version);
            transaction.Put(new InstanceRecord
            {
                Id = id,
                Service = service.Name,
                ServiceVersion = service.Version,
                CreatedAt = now,
                ChangedAt = now,
            });
        }

        if (transaction.IsEmpty)
        {
            return false;
        }

        await CommitAsync(transaction, cancellationToken);
        return true;
    }

    /// <summary>
    /// Pauses a rollout whose new instances fail or never get Ready (an event says why), and marks it done,
    /// with an event, once every instance runs the current version; returns the service as the plan must see it.
    /// </summary>
    private ServiceRecord TrackRollout(ServiceRecord service, IReadOnlyList<InstanceRecord> live, IReadOnlyDictionary<string, NodeRecord> nodes, DateTimeOffset now, StoreTransaction transaction)
    {
        if (!service.RolloutActive)
        {
            return service;
        }

        var current = live.Where(i => i.ServiceVersion == service.Version && !InstancePlanner.Evacuating(i, nodes)).ToList();
        var outgoing = live.Count(i => i.ServiceVersion != service.Version);
        var desired = service.Stopped || service.Deleting ? 0 : service.Replicas;
        ServiceRecord updated;
        if (outgoing == 0 && current.Count(i => i.State == InstanceState.Ready) >= desired)
        {
            updated = service with { RolloutActive = false, RolloutPaused = "" };
            transaction.Append(new EventRecord(0, now, service.Name, "", "RolloutDone", $"every instance runs version {service.Version}", ""));
        }
        else if (service.RolloutPaused.Length > 0 && StalledReason(current, now) is null)
        {
            // The instance that paused it got Ready after all (a one-off kill, a slow start): carry on.
            updated = service with { RolloutPaused = "" };
            transaction.Append(new EventRecord(0, now, service.Name, "", "RolloutResumed", $"rollout to version {service.Version} resumed: its new instances are no longer failing", ""));
        }
        else if (service.RolloutPaused.Length == 0 && outgoing > 0 && StalledReason(current, now) is { } why)
        {
            updated = service with { RolloutPaused = why };
            ReconcilerLog.RolloutPaused(logger, service.Name, service.Version, why);
            transaction.Append(new EventRecord(0, now, service.Name, "", "RolloutPaused",
                $"rollout to version {service.Version} paused, the old version keeps serving: {why}; fix the spec and modify again, or roll back with 'easctl rollback {service.Name}'", ""));
        }
        else
        {
            return service;
        }

        transaction.Put(updated);
        return updated;
    }

    /// <summary>
    /// Why a new instance of the rollout counts as failed, or null while every new instance is fine or still within
    /// the deadline: it failed, it restarted <see cref="RestartsBeforePause"/> times without ever being Ready (one
    /// kill is not a broken version), or it is not Ready past the progress deadline.
    /// </summary>
    private string? StalledReason(IEnumerable<InstanceRecord> current, DateTimeOffset now)
    {
        foreach (var instance in current.Where(i => !i.ReadyOnce).OrderBy(i => i.CreatedAt))
        {
            var said = instance.Reason.Length > 0 ? $": {instance.Reason}" : "";
            if (instance.State == InstanceState.Failed)
            {
                return $"new instance {instance.Id} failed{said}";
            }

            if (instance.Restarts >= RestartsBeforePause)
            {
                return $"new instance {instance.Id} restarted {instance.Restarts} time(s) without getting Ready{said}";
            }

            if (now - instance.CreatedAt >= _progressDeadline)
            {
                return $"new instance {instance.Id} is not Ready after {_progressDeadline.TotalSeconds:0} s (Coordinator:RolloutProgressDeadlineSeconds), still {StateName(instance.State)}{said}";
            }
        }

        return null;
    }

    private static string StateName(InstanceState state) => state == InstanceState.Pending ? "Pending" : state.ToString();

    /// <summary>Places every unplaced instance on a Ready, connected node, one CAS write per placement.</summary>
    private async Task<bool> ScheduleAsync(CancellationToken cancellationToken)
    {
        var services = (await store.ListServicesAsync(cancellationToken)).ToDictionary(s => s.Name, StringComparer.Ordinal);
        var nodes = await store.ListNodesAsync(cancellationToken);
        var instances = await store.ListInstancesAsync(null, cancellationToken);
        var unplaced = instances
            .Where(i => i.Node is null && !i.Removing)
            .OrderBy(i => i.CreatedAt)
            .ThenBy(i => i.Id, StringComparer.Ordinal)
            .ToList();
        var changed = false;
        var failures = new Dictionary<string, string>(StringComparer.Ordinal);
        if (unplaced.Count > 0)
        {
            var placed = new List<PlacedInstance>();
            foreach (var instance in instances.Where(i => i.Node is not null && i.State != InstanceState.Stopped))
            {
                var spec = await specs.GetAsync(instance.Service, instance.ServiceVersion, cancellationToken);
                placed.Add(new PlacedInstance(instance.Id, instance.Service, instance.Node!, spec?.CpuMillis ?? 0, spec?.MemoryMb ?? 0, [], GpuMapping.ToAssignment(instance.Gpu)));
            }

            var requests = new List<PlacementRequest>();
            foreach (var instance in unplaced)
            {
                var spec = await specs.GetAsync(instance.Service, instance.ServiceVersion, cancellationToken);
                if (spec is not null)
                {
                    requests.Add(new PlacementRequest(instance.Id, instance.Service, spec.CpuMillis, spec.MemoryMb, [], Gpu: GpuMapping.ToRequest(spec)));
                }
            }

            var snapshot = new ClusterSnapshot(
                [.. nodes.Select(n => new NodeSnapshot(
                    n.Name,
                    n.CpuMillis,
                    n.MemoryMib,
                    n.Labels,
                    n.Status == NodeStatus.Ready && !n.Cordoned && !n.Draining && hub.IsConnected(n.Name),
                    GpuMapping.ToSnapshots(n.Gpus),
                    n.GpuDriverVersion))],
                placed);
            var scheduleStart = System.Diagnostics.Stopwatch.GetTimestamp();
            var plan = scheduler.Schedule(snapshot, requests);
            metrics.ObserveSchedule(System.Diagnostics.Stopwatch.GetElapsedTime(scheduleStart));
            var byId = unplaced.ToDictionary(i => i.Id, StringComparer.Ordinal);
            var now = time.GetUtcNow();

            // One transaction for the whole plan: one disk sync however many instances it places, and a
            // plan made from a stale snapshot (an instance changed meanwhile) is rejected as a whole.
            var transaction = new StoreTransaction();
            foreach (var placement in plan.Placements)
            {
                var instance = byId[placement.InstanceId];
                ReconcilerLog.Scheduled(logger, instance.Service, instance.Id, placement.Node);
                var gpu = GpuMapping.ToRecord(placement.Gpu);
                transaction
                    .Put(instance with { Node = placement.Node, Gpu = gpu, Reason = "", ChangedAt = now })
                    .Append(new EventRecord(0, now, instance.Service, instance.Id, "Scheduled", $"scheduled on node {placement.Node}{GpuMapping.Describe(gpu)}", placement.Node));
            }

            foreach (var failure in plan.Failures)
            {
                var instance = byId[failure.InstanceId];
                failures.TryAdd(instance.Service, failure.Reason);
                if (instance.Reason == failure.Reason)
                {
                    continue;
                }

                // Said once per reason, not once per pass: the instance keeps the reason it was last refused for.
                ReconcilerLog.Unschedulable(logger, instance.Service, instance.Id, failure.Reason);
                transaction
                    .Put(instance with { Reason = failure.Reason })
                    .Append(new EventRecord(0, now, instance.Service, instance.Id, "Failed", $"cannot be scheduled: {failure.Reason}", ""));
            }

            if (!transaction.IsEmpty)
            {
                await CommitAsync(transaction, cancellationToken);
                changed = true;
            }
        }

        foreach (var service in services.Values)
        {
            var message = failures.GetValueOrDefault(service.Name, "");
            if (service.Message != message)
            {
                await CommitAsync(new StoreTransaction().Put(service with { Message = message }), cancellationToken);
                changed = true;
            }
        }

        return changed;
    }

    private async Task<bool> CommitAsync(StoreTransaction transaction, CancellationToken cancellationToken)
    {
        var result = await store.CommitAsync(transaction, cancellationToken);
        if (!result.Succeeded)
        {
            // Someone else wrote first (an agent report, the API); the next pass works from fresh reads.
            ReconcilerLog.Conflict(logger, result.Conflict ?? "?");
        }

        return result.Succeeded;
    }

    private static string NewInstanceId(string service, HashSet<string> taken)
    {
        while (true)
        {
            var id = $"{service}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
            if (taken.Add(id))
            {
                return id;
            }
        }
    }
}
