using System.Buffers;

namespace Eas.Node.Gateway.Llm;

/// <summary>How an <see cref="LlmRouter.AcquireAsync"/> call ended.</summary>
public enum LlmOutcome
{
    /// <summary>A replica was chosen: forward to <see cref="LlmLease.Replica"/>.</summary>
    Routed,

    /// <summary>Every replica is saturated and the wait queue is full: answer 429 with <c>Retry-After</c>.</summary>
    QueueFull,

    /// <summary>The request waited in the queue past the timeout: answer 503 with <c>Retry-After</c>.</summary>
    QueueTimeout,

    /// <summary>The service has no replica: answer 503.</summary>
    NoReplica,
}

/// <summary>Why a routed request went where it went.</summary>
public enum LlmRouteReason
{
    /// <summary>Not routed.</summary>
    None,

    /// <summary>The chosen replica had the cheapest cost and part of the prompt cached.</summary>
    Prefix,

    /// <summary>The chosen replica had the cheapest cost with nothing of the prompt cached (least work).</summary>
    Load,

    /// <summary>The session's bound replica (session affinity).</summary>
    Session,

    /// <summary>Least-requests, because the policy failed or ran past its budget.</summary>
    Fallback,
}

/// <summary>
/// The result of routing one request. When <see cref="Outcome"/> is <see cref="LlmOutcome.Routed"/>, the request
/// counts against <see cref="Replica"/> until <see cref="Dispose"/> (call it when the response ends, however it ends);
/// call <see cref="FirstByte"/> when the first response byte (headers or first SSE chunk) arrives, and
/// <see cref="RetryExcluding"/> to move the request to another replica before that. Otherwise
/// <see cref="StatusCode"/> and <see cref="RetryAfterSeconds"/> say what to answer. Not thread-safe: one request's
/// flow calls it in order.
/// </summary>
public sealed class LlmLease : IDisposable
{
    private readonly LlmRouter _router;
    private ulong[]? _blocks;
    private ReplicaState?[]? _tried;
    private int _triedCount;
    private int _prefillOpen;
    private int _held;
    private int _disposed;

    internal LlmLease(LlmRouter router, LlmServiceState service, ulong[] blocks, string? sessionKey, long startTimestamp)
    {
        _router = router;
        Service = service;
        _blocks = blocks;
        SessionKey = sessionKey;
        StartTimestamp = startTimestamp;
    }

    public LlmOutcome Outcome { get; private set; }

    /// <summary>True when a replica holds the request (<see cref="Replica"/> is set and counts it).</summary>
    public bool IsRouted => Outcome == LlmOutcome.Routed && State is not null;

    /// <summary>The chosen replica (the object from the latest list passed for the service, with its tag).</summary>
    public LlmReplica? Replica { get; private set; }

    public LlmRouteReason Reason { get; private set; }

    /// <summary>0 when routed; 429 when the queue is full; 503 on queue timeout or with no replica.</summary>
    public int StatusCode => Outcome switch
    {
        LlmOutcome.QueueFull => 429,
        LlmOutcome.QueueTimeout or LlmOutcome.NoReplica => 503,
        _ => 0,
    };

    /// <summary>Seconds for the <c>Retry-After</c> header of a 429 or 503; 0 when routed.</summary>
    public int RetryAfterSeconds { get; private set; }

    /// <summary>What the request body held (kind, blocks, <c>stream</c>, <c>max_tokens</c>).</summary>
    public LlmPromptInfo Prompt { get; internal set; }

    /// <summary>Leading prompt blocks the chosen replica was believed to hold.</summary>
    public int MatchedBlocks { get; private set; }

    /// <summary>Estimated prompt tokens the chosen replica still has to prefill for this request.</summary>
    public long UncachedTokens { get; private set; }

    /// <summary>Time spent in the wait queue (zero when a replica took the request at once).</summary>
    public TimeSpan QueueWait { get; internal set; }

    /// <summary>Times the request moved to another replica.</summary>
    public int Retries { get; private set; }

    internal LlmServiceState Service { get; }

    internal LlmRouter Router => _router;

    internal string? SessionKey { get; }

    internal long StartTimestamp { get; }

    internal long PromptTokens { get; set; }

    internal ReplicaState? State { get; private set; }

    /// <summary>The whole rented hash buffer, for the parser to fill.</summary>
    internal Span<ulong> BlocksBuffer(int length) => _blocks.AsSpan(0, length);

    internal ReadOnlySpan<ulong> Blocks => _blocks is { } blocks ? blocks.AsSpan(0, Prompt.BlockCount) : default;

    // Queue bookkeeping, touched under the service's lock.
    internal TaskCompletionSource<LlmLease>? Waiter { get; set; }

    internal LinkedListNode<LlmLease>? Node { get; set; }

    internal ITimer? Timer { get; set; }

    internal CancellationTokenRegistration Registration { get; set; }

    internal CancellationToken WaitToken { get; set; }

    internal bool PrefillOpen => Volatile.Read(ref _prefillOpen) == 1;

    /// <summary>
    /// The first response byte arrived: the request's prefill is no longer pending on its replica. Idempotent; also
    /// done by <see cref="Dispose"/>. After it, <see cref="RetryExcluding"/> returns false.
    /// </summary>
    public void FirstByte()
    {
        if (Interlocked.Exchange(ref _prefillOpen, 0) == 1)
        {
            State!.PrefillDone(UncachedTokens);
        }

        ReturnBlocks();
    }

    /// <summary>
    /// Moves the request to another replica it has not tried, before any response byte reached the client (for
    /// example after a refused connection or an engine's 503). <paramref name="replicaUnreachable"/> marks the current
    /// replica down (no new requests) until a scrape reaches it again or <c>DownHoldMs</c> passes. Returns false when
    /// no other replica is left, the retry budget (<c>MaxRetries</c>) is spent, or the first byte already came; the
    /// lease then holds no replica.
    /// </summary>
    public bool RetryExcluding(bool replicaUnreachable = false) => _router.Retry(this, replicaUnreachable);

    /// <summary>The response ended (or the request failed): the replica's in-flight count drops. Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        FirstByte();
        if (Interlocked.Exchange(ref _held, 0) == 1)
        {
            State!.Exit();
            _router.Released(this);
        }
    }

    internal bool CanRetry(int maxRetries) =>
        IsRouted && Volatile.Read(ref _disposed) == 0 && PrefillOpen && Retries < maxRetries && _blocks is not null;

    internal bool HasTried(ReplicaState state)
    {
        for (var i = 0; i < _triedCount; i++)
        {
            if (ReferenceEquals(_tried![i], state))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Binds the lease to a replica; the caller has already counted it there (Enter).</summary>
    internal void Assign(LlmReplica replica, ReplicaState state, LlmRouteReason reason, int matched, long uncachedTokens)
    {
        Outcome = LlmOutcome.Routed;
        Replica = replica;
        State = state;
        Reason = reason;
        MatchedBlocks = matched;
        UncachedTokens = uncachedTokens;
        Volatile.Write(ref _prefillOpen, 1);
        Volatile.Write(ref _held, 1);
    }

    /// <summary>Releases the current replica for a retry and remembers it as tried.</summary>
    internal void Leave(int maxTried)
    {
        if (Interlocked.Exchange(ref _prefillOpen, 0) == 1)
        {
            State!.PrefillDone(UncachedTokens);
        }

        if (Interlocked.Exchange(ref _held, 0) == 1)
        {
            State!.Exit();
        }

        _tried ??= new ReplicaState?[Math.Max(2, maxTried)];
        if (_triedCount == _tried.Length)
        {
            Array.Resize(ref _tried, _tried.Length * 2);
        }

        _tried[_triedCount++] = State;
        State = null;
    }

    internal void CountRetry() => Retries++;

    internal void Fail(LlmOutcome outcome, int retryAfterSeconds)
    {
        Outcome = outcome;
        RetryAfterSeconds = retryAfterSeconds;
        ReturnBlocks();
    }

    private void ReturnBlocks()
    {
        if (Interlocked.Exchange(ref _blocks, null) is { } blocks)
        {
            ArrayPool<ulong>.Shared.Return(blocks);
        }
    }
}
