namespace Eas.Node.Gateway.Llm;

/// <summary>
/// What the gateway knows of one replica (engine), shared by every service key that routes to it: its prefix index,
/// the gateway's in-flight and pending-prefill counts, and the latest engine metrics.
/// </summary>
internal sealed class ReplicaState
{
    private int _inFlight;
    private long _pendingTokens;
    private int _pendingRequests;
    private long _downUntil;
    private EngineSnapshot? _snapshot;

    public ReplicaState(LlmReplica replica, int capacityBlocks, Uri? metricsUri)
    {
        Replica = replica;
        Prefixes = new BlockLru(capacityBlocks);
        MetricsUri = metricsUri;
    }

    /// <summary>The replica as first seen (its tag may be stale; leases report the current list's object).</summary>
    public LlmReplica Replica { get; }

    public BlockLru Prefixes { get; }

    public Uri? MetricsUri { get; }

    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Estimated prompt tokens still to prefill: routed requests that have not reached their first byte.</summary>
    public long PendingTokens => Interlocked.Read(ref _pendingTokens);

    public int PendingRequests => Volatile.Read(ref _pendingRequests);

    public EngineSnapshot? Snapshot
    {
        get => Volatile.Read(ref _snapshot);
        set => Volatile.Write(ref _snapshot, value);
    }

    /// <summary>Consecutive failed scrapes (touched by the scrape loop only).</summary>
    public int ScrapeFailures { get; set; }

    /// <summary>When the replica left every route (timestamp), 0 while some route lists it (touched by the sweep only).</summary>
    public long GoneSince { get; set; }

    public void Enter(long pendingTokens)
    {
        Interlocked.Increment(ref _inFlight);
        Interlocked.Increment(ref _pendingRequests);
        Interlocked.Add(ref _pendingTokens, pendingTokens);
    }

    /// <summary>The request's first response byte arrived (or it ended before one): its prefill is no longer pending.</summary>
    public void PrefillDone(long pendingTokens)
    {
        Interlocked.Decrement(ref _pendingRequests);
        Interlocked.Add(ref _pendingTokens, -pendingTokens);
    }

    public void Exit() => Interlocked.Decrement(ref _inFlight);

    public bool IsDown(long now) => Volatile.Read(ref _downUntil) > now;

    public void MarkDown(long until)
    {
        long current;
        do
        {
            current = Volatile.Read(ref _downUntil);
            if (current >= until)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _downUntil, until, current) != current);
    }

    public void ClearDown() => Volatile.Write(ref _downUntil, 0);
}
