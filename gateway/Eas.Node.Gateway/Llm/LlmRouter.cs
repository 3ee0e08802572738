using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using Prometheus;

namespace Eas.Node.Gateway.Llm;

/// <summary>A replica's routing state, for diagnostics and tests.</summary>
/// <param name="Replica">The replica.</param>
/// <param name="InFlight">The gateway's requests in flight to it.</param>
/// <param name="PendingPrefillTokens">Estimated prompt tokens of its requests not yet at their first byte.</param>
/// <param name="CachedBlocks">Blocks in its prefix index.</param>
/// <param name="CapacityBlocks">Capacity of its prefix index.</param>
/// <param name="EngineWaiting">Waiting requests from the latest fresh scrape; null without one.</param>
/// <param name="EngineRunning">Running requests from the latest fresh scrape; null without one.</param>
/// <param name="KvUsage">KV-cache usage 0-1 from the latest fresh scrape; null without one.</param>
/// <param name="Saturated">Waiting or KV usage at their thresholds (or the gateway-side cap reached).</param>
/// <param name="Down">Refused a connection recently; takes no new requests while another replica is up.</param>
public sealed record LlmReplicaStatus(
    LlmReplica Replica,
    int InFlight,
    long PendingPrefillTokens,
    int CachedBlocks,
    int CapacityBlocks,
    double? EngineWaiting,
    double? EngineRunning,
    double? KvUsage,
    bool Saturated,
    bool Down);

/// <summary>
/// LLM-aware routing for OpenAI-style requests (one per gateway). For each request it picks the replica with the
/// cheapest estimated work — uncached prompt tokens (from a per-replica prefix index), pending prefill, requests in
/// flight, engine queue — among replicas that are neither saturated (engine metrics scraped from <c>/metrics</c>) nor
/// over the load guard, with optional soft session affinity; when every replica is saturated the request waits in a
/// bounded FIFO. A decision that throws or runs past its budget falls back to least-requests. State is kept per
/// service key (a service or a group) and per replica; replicas absent from every list for a while are forgotten.
/// </summary>
public sealed class LlmRouter : IAsyncDisposable
{
    private const int StackCandidates = 64;

    private readonly LlmRoutingOptions _options;
    private readonly TimeProvider _time;
    private readonly LlmRouterMetrics _metrics;
    private readonly HttpMessageInvoker _http;
    private readonly bool _ownsHttp;
    private readonly ConcurrentDictionary<string, LlmServiceState> _services = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<LlmReplica, ReplicaState> _replicas = new();
    private readonly Func<string, LlmServiceState> _createService;
    private readonly Func<LlmReplica, ReplicaState> _createReplica;
    private readonly CancellationTokenSource _stop = new();
    private readonly long _budgetTicks;
    private readonly long _staleTicks;
    private readonly long _downHoldTicks;
    private readonly long _sessionTtlTicks;
    private readonly long _pruneTicks;
    private readonly double _tokensPerByte;
    private readonly int _blockBytes;
    private readonly int _maxBlocks;
    private Task? _loop;
    private int _loopStarted;
    private int _fallbackRotation;
    private int _disposed;

    /// <summary>
    /// Creates the router. <paramref name="options"/> must pass <see cref="LlmRoutingOptions.Validate"/>;
    /// <paramref name="registry"/> receives the <c>eas_gateway_llm_*</c> metrics; <paramref name="metricsClient"/>
    /// scrapes the engines (default: a proxy-less client of its own); <paramref name="timeProvider"/> defaults to the
    /// system clock. The scrape loop starts with the first request.
    /// </summary>
    public LlmRouter(LlmRoutingOptions options, CollectorRegistry registry, HttpMessageInvoker? metricsClient = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(registry);
        var problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(Environment.NewLine, problems), nameof(options));
        }

        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _metrics = new LlmRouterMetrics(registry);
        _ownsHttp = metricsClient is null;
        _http = metricsClient ?? new HttpMessageInvoker(new SocketsHttpHandler
        {
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            ConnectTimeout = TimeSpan.FromMilliseconds(Math.Max(1, options.ScrapeTimeoutMs)),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        });
        var frequency = _time.TimestampFrequency;
        _budgetTicks = (long)(options.DecisionBudgetMs * frequency / 1000);
        _staleTicks = (long)options.MetricsStaleAfterMs * frequency / 1000;
        _downHoldTicks = (long)options.DownHoldMs * frequency / 1000;
        _sessionTtlTicks = (long)options.SessionTtlMs * frequency / 1000;
        _pruneTicks = (long)options.PruneAfterMs * frequency / 1000;
        _tokensPerByte = 1 / options.BytesPerToken;
        _blockBytes = options.BlockBytes;
        _maxBlocks = options.MaxPromptBlocks;
        _createService = key => new LlmServiceState(key, _metrics.For(key));
        _createReplica = CreateReplica;
        registry.AddBeforeCollectCallback(() => _metrics.PublishReplicas(
            _services.Values.SelectMany(service => service.Active.Select(a => (service.Key, a.Replica.InstanceId, a.State.InFlight, a.State.PendingTokens)))));
        WarmUp();
    }

    public LlmRoutingOptions Options => _options;

    /// <summary>Test hook: runs inside each policy decision (an exception or a delay here exercises the fallback).</summary>
    internal Action<string>? DecisionHook { get; set; }

    /// <summary>
    /// True for the request paths whose body is an OpenAI completions request worth parsing:
    /// <c>…/v1/completions</c> and <c>…/v1/chat/completions</c> (a trailing '/' allowed, any case).
    /// </summary>
    public static bool IsCompletionsPath(ReadOnlySpan<char> path)
    {
        path = path.TrimEnd('/');
        return path.EndsWith("/v1/completions", StringComparison.OrdinalIgnoreCase)
            || path.EndsWith("/v1/chat/completions", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Routes one request of service (or group) <paramref name="serviceKey"/> to one of <paramref name="replicas"/>
    /// (the key's current Ready replicas; the latest list replaces the previous one, so a replica left out takes no new
    /// request). <paramref name="body"/> is the buffered request body (empty, or not an OpenAI body: routed by load
    /// only); <paramref name="sessionKey"/> is the session header's value, if any. Completes at once unless every
    /// replica is saturated, then after a wait in the key's FIFO. Always returns a lease: check
    /// <see cref="LlmLease.Outcome"/>. Throws <see cref="OperationCanceledException"/> when
    /// <paramref name="cancellationToken"/> fires first (the caller went away).
    /// </summary>
    public ValueTask<LlmLease> AcquireAsync(string serviceKey, IReadOnlyList<LlmReplica> replicas, ReadOnlyMemory<byte> body, string? sessionKey = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(serviceKey);
        ArgumentNullException.ThrowIfNull(replicas);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        cancellationToken.ThrowIfCancellationRequested();
        var service = _services.GetOrAdd(serviceKey, _createService);
        EnsureLoop();
        var start = _time.GetTimestamp();
        service.LastUsed = start;
        var lease = new LlmLease(this, service, ArrayPool<ulong>.Shared.Rent(_maxBlocks), sessionKey, start);
        try
        {
            var prompt = LlmPromptParser.Parse(body.Span, _blockBytes, lease.BlocksBuffer(_maxBlocks));
            lease.Prompt = prompt;
            lease.PromptTokens = Tokens(prompt.PromptBytes);
            if (_time.GetTimestamp() - start > _budgetTicks)
            {
                return Fallback(lease, replicas, slow: true, cancellationToken);
            }

            lock (service.Gate)
            {
                SetActive(service, replicas);
                if (service.Active.Length == 0)
                {
                    lease.Fail(LlmOutcome.NoReplica, _options.RetryAfterSeconds);
                    service.Metrics.NoReplica.Inc();
                    return new ValueTask<LlmLease>(lease);
                }

                var now = _time.GetTimestamp();
                if (service.QueueCount > 0)
                {
                    // First come, first served: earlier waiters go before this request.
                    PumpLocked(service, now);
                    if (service.QueueCount > 0)
                    {
                        return Enqueue(service, lease, cancellationToken);
                    }
                }

                DecisionHook?.Invoke(serviceKey);
                if (!TryChoose(service, lease, now, ignoreSaturation: false, out var choice))
                {
                    return Enqueue(service, lease, cancellationToken);
                }

                if (_time.GetTimestamp() - start > _budgetTicks)
                {
                    return Fallback(lease, replicas, slow: true, cancellationToken);
                }

                Commit(service, lease, choice, now, countDecision: true);
            }

            _metrics.DecisionSeconds.Observe(Seconds(_time.GetTimestamp() - start));
            return new ValueTask<LlmLease>(lease);
        }
        catch (Exception)
        {
            // The policy failed. A request it already placed (routed, queued or refused) keeps that result.
            if (lease.Waiter is { } waiter)
            {
                return new ValueTask<LlmLease>(waiter.Task);
            }

            return lease.IsRouted || lease.Outcome != LlmOutcome.Routed ? new ValueTask<LlmLease>(lease) : Fallback(lease, replicas, slow: false, cancellationToken);
        }
    }

    /// <summary>The routing state of each current replica of <paramref name="serviceKey"/> (empty for an unknown key).</summary>
    public IReadOnlyList<LlmReplicaStatus> GetStatus(string serviceKey)
    {
        if (!_services.TryGetValue(serviceKey, out var service))
        {
            return [];
        }

        var now = _time.GetTimestamp();
        var result = new List<LlmReplicaStatus>();
        foreach (var (replica, state) in service.Active)
        {
            var snapshot = Fresh(state, now);
            result.Add(new LlmReplicaStatus(
                replica,
                state.InFlight,
                state.PendingTokens,
                state.Prefixes.Count,
                state.Prefixes.Capacity,
                snapshot is null || double.IsNaN(snapshot.Waiting) ? null : snapshot.Waiting,
                snapshot is null || double.IsNaN(snapshot.Running) ? null : snapshot.Running,
                snapshot is null || double.IsNaN(snapshot.KvUsage) ? null : snapshot.KvUsage,
                IsSaturated(state, now, out _),
                state.IsDown(now)));
        }

        return result;
    }

    /// <summary>Stops the scrape loop; requests still queued get <see cref="LlmOutcome.QueueTimeout"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stop.CancelAsync();
        if (_loop is { } loop)
        {
            try
            {
                await loop;
            }
            catch (OperationCanceledException)
            {
            }
        }

        foreach (var service in _services.Values)
        {
            List<LlmLease> waiting;
            lock (service.Gate)
            {
                waiting = [.. service.Queue];
                service.Queue.Clear();
                foreach (var lease in waiting)
                {
                    lease.Node = null;
                }

                service.QueueChanged();
            }

            foreach (var lease in waiting)
            {
                FinishWait(lease);
                lease.Fail(LlmOutcome.QueueTimeout, _options.RetryAfterSeconds);
                lease.Waiter!.TrySetResult(lease);
            }
        }

        _stop.Dispose();
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    /// <summary>Scrapes every listed replica once (the loop's body; tests call it directly).</summary>
    internal async Task ScrapeOnceAsync(CancellationToken cancellationToken)
    {
        var tasks = new List<Task>();
        foreach (var state in _replicas.Values)
        {
            if (state.GoneSince == 0 && state.MetricsUri is not null)
            {
                tasks.Add(ScrapeAsync(state, cancellationToken));
            }
        }

        await Task.WhenAll(tasks);
        PumpAll();
    }

    /// <summary>
    /// Forgets replicas no key has listed for <c>PruneAfterMs</c>, and the replicas and sessions of keys unused that long
    /// (the loop runs it; tests call it directly).
    /// </summary>
    internal void Sweep()
    {
        var now = _time.GetTimestamp();
        var listed = new HashSet<ReplicaState>(ReferenceEqualityComparer.Instance);
        foreach (var service in _services.Values)
        {
            if (now - service.LastUsed > _pruneTicks && service.QueueCount == 0 && service.Active.Length > 0)
            {
                // An idle key lets go of its replicas and sessions; the (small) state object stays, so a request that
                // looked it up just now still finds it current.
                lock (service.Gate)
                {
                    if (now - service.LastUsed > _pruneTicks && service.QueueCount == 0)
                    {
                        service.Active = [];
                        service.LastList = null;
                        service.Sessions.Clear();
                    }
                }
            }

            foreach (var active in service.Active)
            {
                listed.Add(active.State);
            }
        }

        foreach (var (replica, state) in _replicas)
        {
            if (listed.Contains(state))
            {
                state.GoneSince = 0;
            }
            else if (state.GoneSince == 0)
            {
                state.GoneSince = now;
            }
            else if (now - state.GoneSince > _pruneTicks && state.InFlight == 0
                && _replicas.TryRemove(new KeyValuePair<LlmReplica, ReplicaState>(replica, state))
                && state.GoneSince == 0)
            {
                // A route listed it again while it was being removed: keep it.
                _replicas.TryAdd(replica, state);
            }
        }
    }

    internal bool IsTracked(LlmReplica replica) => _replicas.ContainsKey(replica);

    /// <summary>A lease gave its replica back: a queued request may fit now.</summary>
    internal void Released(LlmLease lease)
    {
        if (lease.Service.QueueCount > 0)
        {
            Pump(lease.Service);
        }
    }

    internal bool Retry(LlmLease lease, bool replicaUnreachable)
    {
        var service = lease.Service;
        lock (service.Gate)
        {
            if (!lease.CanRetry(_options.MaxRetries))
            {
                return false;
            }

            var now = _time.GetTimestamp();
            if (replicaUnreachable && _downHoldTicks > 0)
            {
                lease.State!.MarkDown(now + _downHoldTicks);
            }

            lease.Leave(_options.MaxRetries + 1);
            Choice choice;
            try
            {
                if (!TryChoose(service, lease, now, ignoreSaturation: false, out choice)
                    && !TryChoose(service, lease, now, ignoreSaturation: true, out choice))
                {
                    return false;
                }
            }
            catch (Exception)
            {
                service.Metrics.FallbackError.Inc();
                if (!TryLeastRequests(service.Active, lease, now, respectSaturation: true, out choice)
                    && !TryLeastRequests(service.Active, lease, now, respectSaturation: false, out choice))
                {
                    return false;
                }
            }

            Commit(service, lease, choice, now, countDecision: false);
            lease.CountRetry();
            service.Metrics.Retries.Inc();
            return true;
        }
    }

    // Compiles the parser and index paths now, so the first requests do not run past the decision budget.
    private void WarmUp()
    {
        var body = System.Text.Encoding.UTF8.GetBytes(
            "{\"model\":\"m\",\"stream\":true,\"max_tokens\":1,\"tools\":[],\"messages\":[{\"role\":\"system\",\"content\":\"a\\nb "
            + new string('x', 4 * _blockBytes)
            + "\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"c\"}]}],\"prompt\":[\"x\"]}");
        var hashes = new ulong[8];
        var info = LlmPromptParser.Parse(body, _blockBytes, hashes);
        var lru = new BlockLru(4);
        lru.Insert(hashes.AsSpan(0, info.BlockCount));
        _ = lru.Match(hashes);
        var popularity = new PrefixPopularity();
        popularity.Record(hashes);
        _ = popularity.HotDepth(hashes, 1, 2);
    }

    private ReplicaState CreateReplica(LlmReplica replica)
    {
        Uri? metricsUri = null;
        if (_options.ScrapeIntervalMs > 0)
        {
            _ = Uri.TryCreate("http://" + replica.Address + _options.MetricsPath, UriKind.Absolute, out metricsUri);
        }

        return new ReplicaState(replica, _options.PrefixCapacityBlocks, metricsUri);
    }

    private long Tokens(long bytes) => (long)Math.Ceiling(bytes * _tokensPerByte);

    private double Seconds(long ticks) => (double)ticks / _time.TimestampFrequency;

    private EngineSnapshot? Fresh(ReplicaState state, long now) =>
        state.Snapshot is { } snapshot && now - snapshot.Timestamp <= _staleTicks ? snapshot : null;

    private bool IsSaturated(ReplicaState state, long now, out double waiting)
    {
        waiting = 0;
        var inFlight = state.InFlight;
        var saturated = _options.MaxInFlightPerReplica > 0 && inFlight >= _options.MaxInFlightPerReplica;
        if (Fresh(state, now) is { } snapshot)
        {
            // Between scrapes, an engine that was already queueing queues every request sent to it since.
            if (snapshot.Waiting > 0)
            {
                waiting = Math.Max(0, snapshot.Waiting + inFlight - snapshot.InFlightAtScrape);
            }

            saturated |= waiting >= _options.WaitingThreshold || snapshot.KvUsage >= _options.KvUsageThreshold;
        }

        return saturated;
    }

    /// <summary>Points the service at the caller's current list (reusing replica state for replicas it already knew).</summary>
    private void SetActive(LlmServiceState service, IReadOnlyList<LlmReplica> replicas)
    {
        if (ReferenceEquals(replicas, service.LastList))
        {
            return;
        }

        var old = service.Active;
        var count = replicas.Count;
        var same = old.Length == count;
        for (var i = 0; same && i < count; i++)
        {
            same = ReferenceEquals(replicas[i], old[i].Replica);
        }

        if (!same)
        {
            var next = new ActiveReplica[count];
            for (var i = 0; i < count; i++)
            {
                var replica = replicas[i];
                ReplicaState? state = null;
                foreach (var known in old)
                {
                    if (known.Replica.Equals(replica))
                    {
                        state = known.State;
                        break;
                    }
                }

                state ??= _replicas.GetOrAdd(replica, _createReplica);
                state.GoneSince = 0;
                next[i] = new ActiveReplica(replica, state);
            }

            service.Active = next;
        }

        service.LastList = replicas;
    }

    /// <summary>
    /// Picks a replica for <paramref name="lease"/> among the service's current replicas it has not tried: skip down
    /// replicas (unless all are down) and saturated ones (unless <paramref name="ignoreSaturation"/>); keep a live
    /// session binding within its load bound; else the cheapest cost among replicas within the load guard.
    /// </summary>
    private bool TryChoose(LlmServiceState service, LlmLease lease, long now, bool ignoreSaturation, out Choice choice)
    {
        choice = default;
        var active = service.Active;
        var n = active.Length;
        Span<int> candidates = n <= StackCandidates ? stackalloc int[StackCandidates] : new int[n];
        Span<double> waiting = n <= StackCandidates ? stackalloc double[StackCandidates] : new double[n];
        Span<int> loads = n <= StackCandidates ? stackalloc int[StackCandidates] : new int[n];

        var anyUp = false;
        for (var i = 0; i < n; i++)
        {
            var state = active[i].State;
            if (!lease.HasTried(state) && !state.IsDown(now))
            {
                anyUp = true;
                break;
            }
        }

        var count = 0;
        long sum = 0;
        for (var i = 0; i < n; i++)
        {
            var state = active[i].State;
            if (lease.HasTried(state) || (anyUp && state.IsDown(now)))
            {
                continue;
            }

            if (IsSaturated(state, now, out var engineWaiting) && !ignoreSaturation)
            {
                continue;
            }

            candidates[count] = i;
            waiting[count] = engineWaiting;
            loads[count] = state.InFlight;
            sum += loads[count];
            count++;
        }

        if (count == 0)
        {
            return false;
        }

        var mean = (double)sum / count;
        var slack = _options.LoadSlack;
        var blocks = lease.Blocks;

        // Soft session affinity: keep the bound replica while it is not much busier than the rest.
        if (lease.SessionKey is { } sessionKey
            && service.Sessions.TryGetValue(sessionKey, out var binding)
            && now - binding.LastUsed <= _sessionTtlTicks)
        {
            var sessionBound = Math.Max(_options.SessionLoadFactor * mean, mean + slack);
            for (var k = 0; k < count; k++)
            {
                var entry = active[candidates[k]];
                if (ReferenceEquals(entry.State, binding.State) && loads[k] <= sessionBound)
                {
                    var matched = blocks.IsEmpty ? 0 : entry.State.Prefixes.Match(blocks);
                    choice = new Choice(entry, matched, UncachedTokens(lease, matched), LlmRouteReason.Session);
                    return true;
                }
            }
        }

        // Load guard: a replica far busier than the mean takes nothing, however much of the prompt it holds.
        var bound = Math.Max((1 + _options.LoadTolerance) * mean, mean + slack);
        Span<int> matches = n <= StackCandidates ? stackalloc int[StackCandidates] : new int[n];
        var maxMatched = 0;
        for (var k = 0; k < count; k++)
        {
            matches[k] = loads[k] > bound || blocks.IsEmpty ? 0 : active[candidates[k]].State.Prefixes.Match(blocks);
            maxMatched = Math.Max(maxMatched, matches[k]);
        }

        // A prefix that more than one replica's share of the traffic starts with (a system prompt everyone sends) is
        // worth caching everywhere: its miss is paid once per replica, so it does not count against replicas that lack
        // it and load decides. Whatever follows it (a conversation's own history) keeps its affinity.
        var hotBlocks = maxMatched > 0 ? Math.Min(maxMatched, service.Popularity.HotDepth(blocks, _options.HotPrefixShare, count)) : 0;
        var start = (int)((uint)service.Rotation++ % (uint)count);
        var best = -1;
        var bestCost = double.PositiveInfinity;
        var bestCached = -1;
        for (var j = 0; j < count; j++)
        {
            var k = start + j;
            if (k >= count)
            {
                k -= count;
            }

            if (loads[k] > bound)
            {
                continue;
            }

            var state = active[candidates[k]].State;
            var uncached = UncachedTokens(lease, Math.Max(hotBlocks, matches[k]));
            var cost = (_options.UncachedTokenWeight * uncached)
                + (_options.PendingPrefillWeight * state.PendingTokens)
                + (_options.InFlightWeight * loads[k])
                + (_options.EngineWaitingWeight * waiting[k]);
            var better = cost < bestCost;
            if (!better && cost == bestCost)
            {
                // Equal work: the replica with more free cache takes it, so cold prefixes spread out.
                if (bestCached < 0)
                {
                    bestCached = active[candidates[best]].State.Prefixes.Count;
                }

                var cached = state.Prefixes.Count;
                if (cached < bestCached)
                {
                    better = true;
                    bestCached = cached;
                }
            }
            else if (better)
            {
                bestCached = -1;
            }

            if (better)
            {
                best = k;
                bestCost = cost;
            }
        }

        if (best < 0)
        {
            return false;
        }

        var chosen = active[candidates[best]];
        var bestMatched = matches[best];
        choice = new Choice(chosen, bestMatched, UncachedTokens(lease, bestMatched), bestMatched > 0 ? LlmRouteReason.Prefix : LlmRouteReason.Load);
        return true;
    }

    private long UncachedTokens(LlmLease lease, int matchedBlocks) =>
        Tokens(Math.Max(0, lease.Prompt.PromptBytes - ((long)matchedBlocks * _blockBytes)));

    private void Commit(LlmServiceState service, LlmLease lease, Choice choice, long now, bool countDecision)
    {
        var state = choice.Entry.State;
        var blocks = lease.Blocks;
        if (!blocks.IsEmpty)
        {
            state.Prefixes.Insert(blocks);
        }

        if (lease.SessionKey is { } sessionKey)
        {
            Bind(service, sessionKey, state, now);
        }

        state.Enter(choice.UncachedTokens);
        lease.Assign(choice.Entry.Replica, state, choice.Reason, choice.Matched, choice.UncachedTokens);
        if (countDecision)
        {
            service.Popularity.Record(lease.Blocks);
            var metrics = service.Metrics;
            metrics.Routed(choice.Reason).Inc();
            metrics.PromptBlocks.Inc(lease.Prompt.BlockCount);
            metrics.HitBlocks.Inc(choice.Matched);
        }
    }

    private void Bind(LlmServiceState service, string sessionKey, ReplicaState state, long now)
    {
        var sessions = service.Sessions;
        if (sessions.TryGetValue(sessionKey, out var binding))
        {
            binding.State = state;
            binding.LastUsed = now;
            return;
        }

        if (sessions.Count >= _options.SessionCapacity)
        {
            EvictSessions(sessions, now);
        }

        sessions[sessionKey] = new SessionBinding(state, now);
    }

    // Drops expired bindings, then the oldest tenth if the table is still full.
    private void EvictSessions(Dictionary<string, SessionBinding> sessions, long now)
    {
        foreach (var (key, binding) in sessions)
        {
            if (now - binding.LastUsed > _sessionTtlTicks)
            {
                sessions.Remove(key);
            }
        }

        if (sessions.Count < _options.SessionCapacity)
        {
            return;
        }

        var ages = sessions.Values.Select(b => b.LastUsed).Order().ToArray();
        var cutoff = ages[Math.Min(ages.Length - 1, Math.Max(0, (ages.Length / 10) - 1))];
        foreach (var (key, binding) in sessions)
        {
            if (binding.LastUsed <= cutoff)
            {
                sessions.Remove(key);
            }
        }
    }

    /// <summary>
    /// Least-requests among the replicas that are neither saturated nor down, without the prefix index or the cost
    /// model (EAS's "scheduler down" mode); when every replica is saturated the request waits in the queue as usual.
    /// If even that bookkeeping fails, least-requests over the caller's list without any check.
    /// </summary>
    private ValueTask<LlmLease> Fallback(LlmLease lease, IReadOnlyList<LlmReplica> replicas, bool slow, CancellationToken cancellationToken)
    {
        var service = lease.Service;
        (slow ? service.Metrics.FallbackSlow : service.Metrics.FallbackError).Inc();
        Choice choice;
        try
        {
            lock (service.Gate)
            {
                SetActive(service, replicas);
                if (service.Active.Length == 0)
                {
                    lease.Fail(LlmOutcome.NoReplica, _options.RetryAfterSeconds);
                    service.Metrics.NoReplica.Inc();
                    return new ValueTask<LlmLease>(lease);
                }

                if (!TryLeastRequests(service.Active, lease, _time.GetTimestamp(), respectSaturation: true, out choice))
                {
                    return Enqueue(service, lease, cancellationToken);
                }

                return CommitFallback(service, lease, choice);
            }
        }
        catch (Exception) when (!lease.IsRouted && lease.Waiter is null && lease.Outcome == LlmOutcome.Routed)
        {
            var entries = new ActiveReplica[replicas.Count];
            for (var i = 0; i < entries.Length; i++)
            {
                entries[i] = new ActiveReplica(replicas[i], _replicas.GetOrAdd(replicas[i], _createReplica));
            }

            if (!TryLeastRequests(entries, lease, _time.GetTimestamp(), respectSaturation: false, out choice))
            {
                lease.Fail(LlmOutcome.NoReplica, _options.RetryAfterSeconds);
                service.Metrics.NoReplica.Inc();
                return new ValueTask<LlmLease>(lease);
            }

            return CommitFallback(service, lease, choice);
        }
    }

    private ValueTask<LlmLease> CommitFallback(LlmServiceState service, LlmLease lease, Choice choice)
    {
        try
        {
            // The engine caches the prompt wherever it goes; the index should say so even when the policy was bypassed.
            var blocks = lease.Blocks;
            if (!blocks.IsEmpty)
            {
                choice.Entry.State.Prefixes.Insert(blocks);
            }
        }
        catch (Exception)
        {
            // Best effort: the index is approximate anyway.
        }

        choice.Entry.State.Enter(choice.UncachedTokens);
        lease.Assign(choice.Entry.Replica, choice.Entry.State, LlmRouteReason.Fallback, 0, choice.UncachedTokens);
        service.Metrics.Fallback.Inc();
        _metrics.DecisionSeconds.Observe(Seconds(_time.GetTimestamp() - lease.StartTimestamp));
        return new ValueTask<LlmLease>(lease);
    }

    private bool TryLeastRequests(ActiveReplica[] entries, LlmLease lease, long now, bool respectSaturation, out Choice choice)
    {
        choice = default;
        var count = entries.Length;
        var anyUp = false;
        foreach (var entry in entries)
        {
            anyUp |= !lease.HasTried(entry.State) && !entry.State.IsDown(now);
        }

        var start = (int)((uint)Interlocked.Increment(ref _fallbackRotation) % (uint)Math.Max(1, count));
        var best = -1;
        var bestLoad = int.MaxValue;
        for (var j = 0; j < count; j++)
        {
            var i = start + j;
            if (i >= count)
            {
                i -= count;
            }

            var state = entries[i].State;
            if (lease.HasTried(state) || (anyUp && state.IsDown(now)) || (respectSaturation && IsSaturated(state, now, out _)))
            {
                continue;
            }

            var load = state.InFlight;
            if (load < bestLoad)
            {
                best = i;
                bestLoad = load;
            }
        }

        if (best < 0)
        {
            return false;
        }

        choice = new Choice(entries[best], 0, lease.PromptTokens, LlmRouteReason.Fallback);
        return true;
    }

    private ValueTask<LlmLease> Enqueue(LlmServiceState service, LlmLease lease, CancellationToken cancellationToken)
    {
        if (service.Queue.Count >= _options.QueueCapacity)
        {
            lease.Fail(LlmOutcome.QueueFull, _options.RetryAfterSeconds);
            service.Metrics.QueueFull.Inc();
            return new ValueTask<LlmLease>(lease);
        }

        lease.Waiter = new TaskCompletionSource<LlmLease>(TaskCreationOptions.RunContinuationsAsynchronously);
        lease.Node = service.Queue.AddLast(lease);
        service.QueueChanged();
        lease.Timer = _time.CreateTimer(static s => ((LlmLease)s!).Router.OnQueueTimeout((LlmLease)s!), lease, TimeSpan.FromMilliseconds(_options.QueueTimeoutMs), Timeout.InfiniteTimeSpan);
        if (cancellationToken.CanBeCanceled)
        {
            lease.WaitToken = cancellationToken;

            // Runs at once (re-entering the lock this thread holds) if the token is already cancelled.
            lease.Registration = cancellationToken.UnsafeRegister(static s => ((LlmLease)s!).Router.OnQueueCancel((LlmLease)s!), lease);
        }

        return new ValueTask<LlmLease>(lease.Waiter.Task);
    }

    private void OnQueueTimeout(LlmLease lease)
    {
        var service = lease.Service;
        lock (service.Gate)
        {
            if (lease.Node is null)
            {
                return;
            }

            service.Queue.Remove(lease.Node);
            lease.Node = null;
            service.QueueChanged();
        }

        FinishWait(lease);
        lease.Fail(LlmOutcome.QueueTimeout, _options.RetryAfterSeconds);
        service.Metrics.QueueTimeout.Inc();
        lease.Waiter!.TrySetResult(lease);
    }

    private void OnQueueCancel(LlmLease lease)
    {
        var service = lease.Service;
        lock (service.Gate)
        {
            if (lease.Node is null)
            {
                return;
            }

            service.Queue.Remove(lease.Node);
            lease.Node = null;
            service.QueueChanged();
        }

        FinishWait(lease);
        lease.Fail(LlmOutcome.QueueTimeout, _options.RetryAfterSeconds);
        lease.Waiter!.TrySetCanceled(lease.WaitToken);
    }

    // Stops the wait's timer and cancellation callback without waiting for a callback that is running.
    private static void FinishWait(LlmLease lease)
    {
        lease.Timer?.Dispose();
        lease.Registration.Unregister();
    }

    private void PumpAll()
    {
        foreach (var service in _services.Values)
        {
            if (service.QueueCount > 0)
            {
                Pump(service);
            }
        }
    }

    private void Pump(LlmServiceState service)
    {
        lock (service.Gate)
        {
            PumpLocked(service, _time.GetTimestamp());
        }
    }

    /// <summary>Hands free capacity to waiting requests, oldest first; stops at the first that still finds no replica.</summary>
    private void PumpLocked(LlmServiceState service, long now)
    {
        var changed = false;
        while (service.Queue.First is { } node)
        {
            var lease = node.Value;
            Choice choice;
            try
            {
                if (!TryChoose(service, lease, now, ignoreSaturation: false, out choice))
                {
                    break;
                }
            }
            catch (Exception)
            {
                service.Metrics.FallbackError.Inc();
                if (!TryLeastRequests(service.Active, lease, now, respectSaturation: true, out choice))
                {
                    break;
                }
            }

            service.Queue.RemoveFirst();
            lease.Node = null;
            changed = true;
            FinishWait(lease);
            Commit(service, lease, choice, now, countDecision: true);
            lease.QueueWait = TimeSpan.FromSeconds(Seconds(now - lease.StartTimestamp));
            service.Metrics.QueueWait.Observe(lease.QueueWait.TotalSeconds);
            lease.Waiter!.TrySetResult(lease);
        }

        if (changed)
        {
            service.QueueChanged();
        }
    }

    private void EnsureLoop()
    {
        if (Volatile.Read(ref _loopStarted) == 0 && Interlocked.Exchange(ref _loopStarted, 1) == 0)
        {
            _loop = Task.Run(() => LoopAsync(_stop.Token));
        }
    }

    private async Task LoopAsync(CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromMilliseconds(_options.ScrapeIntervalMs > 0 ? _options.ScrapeIntervalMs : 1000);
        using var timer = new PeriodicTimer(interval, _time);
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            try
            {
                if (_options.ScrapeIntervalMs > 0)
                {
                    await ScrapeOnceAsync(cancellationToken);
                }

                Sweep();
                PumpAll();
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception)
            {
                // A bad round must not end the loop; the next tick tries again.
            }
        }
    }

    private async Task ScrapeAsync(ReplicaState state, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.ScrapeTimeoutMs);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, state.MetricsUri);
            using var response = await _http.SendAsync(request, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                throw new HttpRequestException($"{state.MetricsUri} answered {(int)response.StatusCode}", null, response.StatusCode);
            }

            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
            var reading = await ReadMetricsAsync(stream, timeout.Token);
            state.Snapshot = new EngineSnapshot(reading.Waiting, reading.Running, reading.KvUsage, reading.CacheTokens, _time.GetTimestamp(), state.InFlight);
            state.ScrapeFailures = 0;
            state.ClearDown();
            if (_options.PrefixCapacityFromMetrics && reading.CacheTokens > 0)
            {
                var blocks = (long)(reading.CacheTokens * _options.BytesPerToken / _blockBytes);
                var capacity = (int)Math.Clamp(blocks, 1, 1 << 24);
                if (capacity != state.Prefixes.Capacity)
                {
                    state.Prefixes.SetCapacity(capacity);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            // The replica is judged by the gateway's own counts until a scrape succeeds again.
            state.Snapshot = null;
            state.ScrapeFailures++;
            _metrics.ScrapeErrors.Inc();
            if (ex is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError } && _downHoldTicks > 0)
            {
                state.MarkDown(_time.GetTimestamp() + _downHoldTicks);
            }
        }
    }

    // Feeds the response to the reader line by line through one pooled buffer; lines longer than it are skipped.
    private static async Task<EngineMetricsReader> ReadMetricsAsync(Stream stream, CancellationToken cancellationToken)
    {
        const int BufferSize = 64 * 1024;
        const long MaxBytes = 16L * 1024 * 1024;
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        var reader = new EngineMetricsReader();
        try
        {
            var filled = 0;
            long total = 0;
            var skipping = false;
            while (total < MaxBytes)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(filled, BufferSize - filled), cancellationToken);
                if (read == 0)
                {
                    if (filled > 0 && !skipping)
                    {
                        reader.AddLine(buffer.AsSpan(0, filled));
                    }

                    break;
                }

                total += read;
                filled += read;
                var consumed = FeedLines(buffer.AsSpan(0, filled), ref reader, ref skipping);
                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;
                if (filled == BufferSize)
                {
                    // One line fills the whole buffer: drop it up to its newline.
                    filled = 0;
                    skipping = true;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return reader;
    }

    private static int FeedLines(ReadOnlySpan<byte> data, ref EngineMetricsReader reader, ref bool skipping)
    {
        var consumed = 0;
        while (true)
        {
            var newline = data[consumed..].IndexOf((byte)'\n');
            if (newline < 0)
            {
                return consumed;
            }

            if (!skipping)
            {
                reader.AddLine(data.Slice(consumed, newline));
            }

            skipping = false;
            consumed += newline + 1;
        }
    }

    [DebuggerDisplay("{Entry.Replica} {Reason} matched={Matched}")]
    private readonly record struct Choice(ActiveReplica Entry, int Matched, long UncachedTokens, LlmRouteReason Reason);
}
