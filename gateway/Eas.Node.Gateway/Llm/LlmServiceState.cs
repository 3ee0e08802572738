namespace Eas.Node.Gateway.Llm;

/// <summary>A replica of the service's current list and the shared state behind it.</summary>
internal readonly record struct ActiveReplica(LlmReplica Replica, ReplicaState State);

/// <summary>A session bound to a replica.</summary>
internal sealed class SessionBinding(ReplicaState state, long lastUsed)
{
    public ReplicaState State { get; set; } = state;

    public long LastUsed { get; set; } = lastUsed;
}

/// <summary>
/// Routing state of one service or group key: its current replicas, the wait queue, session bindings and metric
/// children. <see cref="Gate"/> guards everything but the counters it reads.
/// </summary>
internal sealed class LlmServiceState(string key, LlmRouterMetrics.ServiceMetrics metrics)
{
    private ActiveReplica[] _active = [];
    private int _queueCount;
    private long _lastUsed;

    public string Key { get; } = key;

    public Lock Gate { get; } = new();

    public LlmRouterMetrics.ServiceMetrics Metrics { get; } = metrics;

    /// <summary>The replicas of the latest list passed for this key (swapped under <see cref="Gate"/>, read lock-free).</summary>
    public ActiveReplica[] Active
    {
        get => Volatile.Read(ref _active);
        set => Volatile.Write(ref _active, value);
    }

    /// <summary>The list object <see cref="Active"/> was built from, to skip the rebuild when the caller passes it again.</summary>
    public object? LastList { get; set; }

    public LinkedList<LlmLease> Queue { get; } = new();

    /// <summary>The queue's length, readable without the lock.</summary>
    public int QueueCount => Volatile.Read(ref _queueCount);

    public Dictionary<string, SessionBinding> Sessions { get; } = new(StringComparer.Ordinal);

    public PrefixPopularity Popularity { get; } = new();

    /// <summary>Rotates the scan start so that equal costs take turns.</summary>
    public int Rotation { get; set; }

    public long LastUsed
    {
        get => Volatile.Read(ref _lastUsed);
        set => Volatile.Write(ref _lastUsed, value);
    }

    public void QueueChanged()
    {
        Volatile.Write(ref _queueCount, Queue.Count);
        Metrics.QueueDepth.Set(Queue.Count);
    }
}
