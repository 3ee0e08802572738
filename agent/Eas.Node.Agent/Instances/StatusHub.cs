using System.Threading.Channels;
using Eas.Node.Contracts.V1;
using Google.Protobuf.WellKnownTypes;

namespace Eas.Node.Agent.Instances;

/// <summary>
/// The latest status of every instance and which ones changed since the coordinator last heard; the
/// coordinator client drains changes as soon as they are signalled (deploy latency depends on it).
/// </summary>
public sealed class StatusHub(TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, InstanceStatus> _current = new(StringComparer.Ordinal);
    private readonly HashSet<string> _changed = new(StringComparer.Ordinal);
    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>Records a status (stamping changed_at) and signals the change.</summary>
    public void Publish(InstanceStatus status)
    {
        status.ChangedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow());
        lock (_gate)
        {
            _current[status.InstanceId] = status;
            _changed.Add(status.InstanceId);
        }

        _signal.Writer.TryWrite(true);
    }

    /// <summary>The latest status of one instance, or null.</summary>
    public InstanceStatus? Get(string instanceId)
    {
        lock (_gate)
        {
            return _current.TryGetValue(instanceId, out var status) ? status.Clone() : null;
        }
    }

    /// <summary>Everything running now (for Register and full reports); clears the change set and forgets STOPPED instances.</summary>
    public IReadOnlyList<InstanceStatus> TakeSnapshot()
    {
        lock (_gate)
        {
            _changed.Clear();
            ForgetStopped();
            return _current.Values.Select(s => s.Clone()).ToList();
        }
    }

    /// <summary>The statuses that changed since the last call (STOPPED ones are reported once, then forgotten).</summary>
    public IReadOnlyList<InstanceStatus> TakeChanges()
    {
        lock (_gate)
        {
            var changes = _changed.Select(id => _current[id].Clone()).ToList();
            _changed.Clear();
            ForgetStopped();
            return changes;
        }
    }

    /// <summary>Completes when something changed since the last wait.</summary>
    public async Task WaitForChangeAsync(CancellationToken cancellationToken)
    {
        await _signal.Reader.ReadAsync(cancellationToken);
    }

    private void ForgetStopped()
    {
        foreach (var id in _current.Where(kv => kv.Value.State == InstanceState.Stopped && !_changed.Contains(kv.Key)).Select(kv => kv.Key).ToList())
        {
            _current.Remove(id);
        }
    }
}
