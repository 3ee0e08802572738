using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Store;
using Eas.Node.Spec;

namespace Eas.Node.Coordinator.Reconciler;

/// <summary>What one service needs: how many new instances to create and which ones to remove.</summary>
/// <param name="Create">New instances of the current version to create.</param>
/// <param name="Remove">Live instances to stop and remove.</param>
public sealed record InstancePlan(int Create, IReadOnlyList<InstanceRecord> Remove);

/// <summary>
/// Decides, for one service, the difference between desired and live instances. Instances of an older
/// version, and instances on a node that is Down or being drained, are <em>outgoing</em>: each is
/// replaced by a new instance of the current version, and removed only while the Ready count stays at or
/// above the desired count less <c>max_unavailable</c> without it (outgoing instances that are not Ready
/// go at once). New instances are created up to <c>max_surge</c> above the desired count, except that
/// replacements of instances on a Down node do not wait for the surge (their node runs nothing we can
/// count on). A rollout that is paused creates nothing more while outgoing instances remain, so a new
/// version that never gets Ready leaves the old one serving.
/// </summary>
public static class InstancePlanner
{
    /// <summary>The plan for <paramref name="service"/> given its live (not removing) instances.</summary>
    /// <param name="service">The service.</param>
    /// <param name="live">Its instances that are not being removed.</param>
    /// <param name="strategy">The current version's rolling strategy.</param>
    /// <param name="nodeOf">The node records by name; an instance on a missing, Down or draining node is outgoing.</param>
    public static InstancePlan Plan(ServiceRecord service, IReadOnlyList<InstanceRecord> live, RollingStrategy strategy, IReadOnlyDictionary<string, NodeRecord> nodeOf)
    {
        var desired = service.Stopped || service.Deleting ? 0 : service.Replicas;
        var current = live.Where(i => i.ServiceVersion == service.Version && !Evacuating(i, nodeOf)).ToList();
        var outgoing = live.Where(i => i.ServiceVersion != service.Version || Evacuating(i, nodeOf)).ToList();
        var remove = new List<InstanceRecord>();

        // Surplus of the current version: the not-ready ones first, then the newest.
        if (current.Count > desired)
        {
            var surplus = current
                .OrderBy(i => i.State == InstanceState.Ready ? 1 : 0)
                .ThenByDescending(i => i.CreatedAt)
                .ThenByDescending(i => i.Id, StringComparer.Ordinal)
                .Take(current.Count - desired)
                .ToList();
            remove.AddRange(surplus);
            current = current.Except(surplus).ToList();
        }

        var minimumReady = desired - strategy.UnavailableFor(desired);
        var available = current.Count(i => i.State == InstanceState.Ready) + outgoing.Count(i => i.State == InstanceState.Ready);
        var keptOutgoing = 0;
        var keptOnLiveNodes = 0;
        foreach (var instance in outgoing.OrderBy(i => i.State == InstanceState.Ready ? 1 : 0).ThenBy(i => i.CreatedAt).ThenBy(i => i.Id, StringComparer.Ordinal))
        {
            var ready = instance.State == InstanceState.Ready;
            if (desired == 0 || !ready || available - 1 >= minimumReady)
            {
                remove.Add(instance);
                if (ready)
                {
                    available--;
                }

                continue;
            }

            keptOutgoing++;
            if (!OnDownNode(instance, nodeOf))
            {
                keptOnLiveNodes++;
            }
        }

        var missing = Math.Max(0, desired - current.Count);
        var create = Math.Min(missing, Math.Max(0, desired + strategy.SurgeFor(desired) - current.Count - keptOnLiveNodes));
        if (service.RolloutPaused.Length > 0 && keptOutgoing > 0)
        {
            create = 0;
        }

        return new InstancePlan(create, remove);
    }

    /// <summary>True when the instance must move: its node is gone, Down or being drained.</summary>
    public static bool Evacuating(InstanceRecord instance, IReadOnlyDictionary<string, NodeRecord> nodeOf) =>
        instance.Node is { } name && (!nodeOf.TryGetValue(name, out var node) || node.Status == NodeStatus.Down || node.Draining);

    private static bool OnDownNode(InstanceRecord instance, IReadOnlyDictionary<string, NodeRecord> nodeOf) =>
        instance.Node is { } name && (!nodeOf.TryGetValue(name, out var node) || node.Status == NodeStatus.Down);
}
