using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Store;

namespace Eas.Node.Coordinator.Reconciler;

/// <summary>What one service needs: how many new instances to create and which ones to remove.</summary>
/// <param name="Create">New instances of the current version to create.</param>
/// <param name="Remove">Live instances to stop and remove.</param>
public sealed record InstancePlan(int Create, IReadOnlyList<InstanceRecord> Remove);

/// <summary>
/// Decides, for one service, the difference between desired and live instances. A modify rolls with a
/// surge of one and no unavailability: a new-version instance is created first, and an old one is
/// removed only when the ready count stays at or above the desired count without it (old instances
/// that are not ready anyway go at once). A new version that never gets ready therefore leaves the old
/// one serving.
/// </summary>
public static class InstancePlanner
{
    /// <summary>Extra instances allowed during a roll.</summary>
    public const int MaxSurge = 1;

    /// <summary>The plan for <paramref name="service"/> given its live (not removing) instances.</summary>
    public static InstancePlan Plan(ServiceRecord service, IReadOnlyList<InstanceRecord> live)
    {
        var desired = service.Stopped || service.Deleting ? 0 : service.Replicas;
        var current = live.Where(i => i.ServiceVersion == service.Version).ToList();
        var old = live.Where(i => i.ServiceVersion != service.Version).ToList();
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

        var readyCurrent = current.Count(i => i.State == InstanceState.Ready);
        var readyOld = old.Count(i => i.State == InstanceState.Ready);
        var available = readyCurrent + readyOld;
        var keptOld = 0;
        foreach (var instance in old.OrderBy(i => i.State == InstanceState.Ready ? 1 : 0).ThenBy(i => i.CreatedAt))
        {
            var ready = instance.State == InstanceState.Ready;
            if (desired == 0 || !ready || available - 1 >= desired)
            {
                remove.Add(instance);
                if (ready)
                {
                    available--;
                }
            }
            else
            {
                keptOld++;
            }
        }

        var missing = Math.Max(0, desired - current.Count);
        var create = keptOld == 0 ? missing : Math.Min(missing, Math.Max(0, desired + MaxSurge - current.Count - keptOld));
        return new InstancePlan(create, remove);
    }
}
