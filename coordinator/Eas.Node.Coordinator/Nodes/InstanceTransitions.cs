using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Store;

namespace Eas.Node.Coordinator.Nodes;

/// <summary>
/// Folds an agent's status report into an instance record and names the events it implies. Events
/// come from transitions only: reporting the same state twice changes nothing and says nothing.
/// </summary>
public static class InstanceTransitions
{
    /// <summary>The updated record (the same object when nothing changed) and the events of the transition.</summary>
    public static (InstanceRecord Updated, IReadOnlyList<EventRecord> Events) Apply(InstanceRecord instance, InstanceStatus status, string node, DateTimeOffset now)
    {
        var events = new List<EventRecord>();
        var next = status.State;
        var previous = instance.State;
        EventRecord Event(string type, string message) => new(0, now, instance.Service, instance.Id, type, message, node);

        var startedOnce = instance.StartedOnce;
        if (status.Restarts > instance.Restarts)
        {
            var why = string.IsNullOrEmpty(status.Reason) ? "" : $": {status.Reason}";
            events.Add(Event("Restarted", $"restarted (restart {status.Restarts}){why}"));
        }

        // Progress while preparing (a cache fill, a venv build) is worth a line in the event log.
        if (next == InstanceState.Preparing && status.Reason.Length > 0 && status.Reason != instance.Reason)
        {
            events.Add(Event("Preparing", status.Reason));
        }

        if (next != previous)
        {
            switch (next)
            {
                case InstanceState.Running or InstanceState.Ready when !startedOnce:
                    startedOnce = true;
                    events.Add(Event("Started", $"started on node {node}"));
                    break;
            }

            switch (next)
            {
                case InstanceState.Ready:
                    events.Add(Event("Ready", $"ready at {status.Ip}:{status.Port}"));
                    break;
                case InstanceState.Failed:
                    events.Add(Event("Failed", string.IsNullOrEmpty(status.Reason) ? "failed" : status.Reason));
                    break;
                case InstanceState.Terminating:
                    events.Add(Event("Stopping", "stopping"));
                    break;
                case InstanceState.Stopped:
                    events.Add(Event("Stopped", string.IsNullOrEmpty(status.Reason) ? "stopped" : $"stopped: {status.Reason}"));
                    break;
            }
        }

        var updated = instance with
        {
            State = next,
            Reason = status.Reason,
            Ip = status.Ip,
            Port = status.Port,
            Restarts = status.Restarts,
            StartedOnce = startedOnce,
            ReadyOnce = instance.ReadyOnce || next == InstanceState.Ready,
            ChangedAt = next != previous ? now : instance.ChangedAt,
        };
        return (updated == instance ? instance : updated, events);
    }

    /// <summary>An instance the agent says it no longer runs: stopped if the coordinator wanted it gone, otherwise back to pending.</summary>
    public static (InstanceRecord Updated, IReadOnlyList<EventRecord> Events) Missing(InstanceRecord instance, string node, DateTimeOffset now)
    {
        if (instance.Removing)
        {
            return instance.State == InstanceState.Stopped
                ? (instance, [])
                : (instance with { State = InstanceState.Stopped, ChangedAt = now },
                    [new EventRecord(0, now, instance.Service, instance.Id, "Stopped", "stopped", node)]);
        }

        // The agent lost it (its state was wiped, or it never got the assignment); it is still in the
        // node's desired set, so the agent starts it again and reports.
        return instance.State == InstanceState.Pending
            ? (instance, [])
            : (instance with { State = InstanceState.Pending, Reason = $"not running on node {node}; the agent starts it again", ChangedAt = now }, []);
    }
}
