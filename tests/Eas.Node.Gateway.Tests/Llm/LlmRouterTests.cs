using Eas.Node.Gateway.Llm;

namespace Eas.Node.Gateway.Tests.Llm;

/// <summary>Replica choice: prefix affinity, the load guard, session affinity, fallback, dropped replicas, retries.</summary>
public sealed class LlmRouterTests
{
    private const int PrefixBytes = 8192;

    [Fact]
    public async Task SamePrefix_SameReplica_AndDistinctPrefixesSpreadOverReplicas()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(), out _);
        var replicas = LlmTestData.Replicas(4);
        var prefixes = Enumerable.Range(0, 8).Select(p => LlmTestData.Text(100 + p, PrefixBytes)).ToArray();
        var placed = new Dictionary<int, HashSet<string>>();
        var unique = 0;

        for (var round = 0; round < 6; round++)
        {
            for (var p = 0; p < prefixes.Length; p++)
            {
                using var lease = await router.AcquireAsync("svc", replicas, LlmTestData.Chat(prefixes[p], LlmTestData.Text(5000 + unique++, 300)), null);
                lease.Outcome.Should().Be(LlmOutcome.Routed);
                (placed.TryGetValue(p, out var set) ? set : placed[p] = []).Add(lease.Replica!.InstanceId);
                if (round > 0)
                {
                    lease.Reason.Should().Be(LlmRouteReason.Prefix);
                    lease.MatchedBlocks.Should().BeGreaterThanOrEqualTo(PrefixBytes / 64);
                }
            }
        }

        placed.Values.Should().AllSatisfy(set => set.Should().ContainSingle("a prefix keeps its replica while loads are equal"));
        placed.Values.Select(set => set.Single()).Distinct().Should().HaveCount(4, "cold prefixes go to the replica with the most free cache");
    }

    [Fact]
    public async Task OneHotPrefixForEveryone_LoadGuardSpreadsRequestsEvenly()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(), out _);
        var replicas = LlmTestData.Replicas(4);
        var prefix = LlmTestData.Text(7, PrefixBytes);
        var open = new Queue<LlmLease>();
        var counts = replicas.ToDictionary(r => r.InstanceId, _ => 0);
        var hits = 0;
        const int Requests = 4000;
        const int Concurrency = 16;

        for (var i = 0; i < Requests; i++)
        {
            var lease = await router.AcquireAsync("svc", replicas, LlmTestData.Chat(prefix, LlmTestData.Text(10_000 + i, 256)), null);
            counts[lease.Replica!.InstanceId]++;

            hits += lease.MatchedBlocks >= PrefixBytes / 64 ? 1 : 0;
            open.Enqueue(lease);

            // Closed loop: each request streams while the next 16 arrive; its first byte comes after 4 arrivals.
            if (open.Count > 4)
            {
                open.ElementAt(open.Count - 5).FirstByte();
            }

            if (open.Count > Concurrency)
            {
                open.Dequeue().Dispose();
            }
        }

        while (open.TryDequeue(out var lease))
        {
            lease.Dispose();
        }

        var max = counts.Values.Max();
        var min = counts.Values.Min();
        ((double)max / min).Should().BeLessThanOrEqualTo(1.25, $"per-replica shares were {string.Join(", ", counts)}");
        hits.Should().BeGreaterThan(Requests * 95 / 100, "every replica caches the hot prefix once it took a share");
        router.GetStatus("svc").Should().AllSatisfy(s =>
        {
            s.InFlight.Should().Be(0);
            s.PendingPrefillTokens.Should().Be(0);
        });
    }

    [Theory]
    [InlineData(1.0, PrefixBytes, 2, true)]
    [InlineData(1.0, 7400, 2, true)]
    [InlineData(1.0, 7400, 16, true)]
    [InlineData(0.0, PrefixBytes, 2, false)]
    public async Task OneHotPrefixAtLowConcurrency_SpreadsOnlyWithHotPrefixReplication(double hotPrefixShare, int prefixBytes, int concurrency, bool even)
    {
        // 7400 bytes: a shared prompt that ends mid-way between two powers of two in blocks (about 116 of 64 bytes).
        await using var router = LlmTestData.Router(LlmTestData.Options(o => o.HotPrefixShare = hotPrefixShare), out _);
        var counts = await RunClosedLoop(router, 4, _ => LlmTestData.Text(7, prefixBytes), requests: 2000, concurrency: concurrency, prefillDelay: 1);

        var ratio = (double)counts.Values.Max() / Math.Max(1, counts.Values.Min());
        if (even)
        {
            ratio.Should().BeLessThanOrEqualTo(1.25, $"per-replica shares were {string.Join(", ", counts)}");
        }
        else
        {
            ratio.Should().BeGreaterThan(2, "the load guard's slack alone lets a few replicas keep a prefix everyone shares");
        }
    }

    [Fact]
    public async Task ManyPrefixesUnderLoad_KeepAffinity_WhenTheyDoNotFitOneReplica()
    {
        // Each replica's index holds about 12 of the 32 prefixes: only affinity keeps the hit rate up.
        await using var router = LlmTestData.Router(LlmTestData.Options(o => o.PrefixCapacityBlocks = 400), out _);
        var prefixes = Enumerable.Range(0, 32).Select(p => LlmTestData.Text(700 + p, 2048)).ToArray();
        var hits = 0;
        var measured = 0;
        var counts = await RunClosedLoop(router, 4, i => prefixes[(int)((uint)(i * 2654435761u) >> 16) % prefixes.Length], requests: 3000, concurrency: 16, prefillDelay: 4, observe: (i, lease) =>
        {
            if (i >= 1000)
            {
                measured++;
                hits += lease.MatchedBlocks >= 2048 / 64 ? 1 : 0;
            }
        });

        ((double)hits / measured).Should().BeGreaterThan(0.85);
        ((double)counts.Values.Max() / counts.Values.Min()).Should().BeLessThan(2, $"per-replica shares were {string.Join(", ", counts)}");
    }

    [Fact]
    public async Task SharedSystemPromptWithPrivateHistories_SystemPromptSpreads_HistoriesKeepTheirReplica()
    {
        // 16 conversations at a time, each 8 turns long, all behind one 4 KiB system prompt; a conversation's 4 KiB
        // history is its own. Request i is turn (i / 16) % 8 of conversation (i % 16) + 16 × (i / 128).
        await using var router = LlmTestData.Router(LlmTestData.Options(), out _);
        var system = LlmTestData.Text(1, 4096);
        var fullHits = 0;
        var measured = 0;
        var counts = await RunClosedLoop(router, 4, _ => system, requests: 3000, concurrency: 8, prefillDelay: 2, user: i => LlmTestData.Text(900 + (i % 16) + (16 * (i / 128)), 4096) + LlmTestData.Text(50_000 + i, 128), observe: (i, lease) =>
        {
            if (i >= 500 && (i / 16) % 8 > 0)
            {
                measured++;
                fullHits += lease.MatchedBlocks >= (4096 + 4096) / 64 ? 1 : 0;
            }
        });

        ((double)fullHits / measured).Should().BeGreaterThan(0.85, "a conversation's history stays where it is cached");
        ((double)counts.Values.Max() / counts.Values.Min()).Should().BeLessThan(1.5, $"new conversations go by load; per-replica shares were {string.Join(", ", counts)}");
    }

    [Fact]
    public async Task LoadGuard_BusyReplicaWithThePrefix_IsPassedOver()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(), out _);
        var replicas = LlmTestData.Replicas(4);
        var prefix = LlmTestData.Text(8, PrefixBytes);
        using var first = await router.AcquireAsync("svc", replicas, LlmTestData.Chat(prefix, "a"), null);
        var holder = first.Replica!;

        // Pin load on the replica that holds the prefix through another key (in-flight counts are per replica).
        var pinned = new List<LlmLease>();
        for (var i = 0; i < 9; i++)
        {
            pinned.Add(await router.AcquireAsync("pin", [holder], ReadOnlyMemory<byte>.Empty, null));
        }

        using var next = await router.AcquireAsync("svc", replicas, LlmTestData.Chat(prefix, "b"), null);

        next.Replica.Should().NotBe(holder, "10 in flight is over max(1.3 × mean 2.5, mean + 4)");
        next.Reason.Should().Be(LlmRouteReason.Load);
        pinned.ForEach(l => l.Dispose());
        using var after = await router.AcquireAsync("svc", replicas, LlmTestData.Chat(prefix, "c"), null);
        after.Replica.Should().BeOneOf(holder, next.Replica);
        after.Reason.Should().Be(LlmRouteReason.Prefix);
    }

    [Fact]
    public async Task Session_StaysOnItsReplica_UntilThatReplicaIsOverloaded()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(o => o.SessionHeader = "X-Session-Id"), out _);
        var replicas = LlmTestData.Replicas(4);
        using var first = await router.AcquireAsync("svc", replicas, LlmTestData.Chat(LlmTestData.Text(1, 2000), "q"), "s1");
        var bound = first.Replica!;
        first.Dispose();

        for (var i = 0; i < 8; i++)
        {
            // Unrelated prompts: only the session keeps them together.
            using var lease = await router.AcquireAsync("svc", replicas, LlmTestData.Chat(LlmTestData.Text(200 + i, 2000), "q"), "s1");
            lease.Replica.Should().Be(bound);
            lease.Reason.Should().Be(LlmRouteReason.Session);
        }

        var pinned = new List<LlmLease>();
        for (var i = 0; i < 10; i++)
        {
            pinned.Add(await router.AcquireAsync("pin", [bound], ReadOnlyMemory<byte>.Empty, null));
        }

        using var moved = await router.AcquireAsync("svc", replicas, LlmTestData.Chat(LlmTestData.Text(300, 2000), "q"), "s1");
        moved.Replica.Should().NotBe(bound, "soft affinity lets go when the bound replica is over max(1.5 × mean, mean + slack)");
        moved.Dispose();
        pinned.ForEach(l => l.Dispose());

        using var rebound = await router.AcquireAsync("svc", replicas, LlmTestData.Chat(LlmTestData.Text(301, 2000), "q"), "s1");
        rebound.Replica.Should().Be(moved.Replica, "the session follows its new replica");
    }

    [Fact]
    public async Task PolicyThrows_RequestUsesLeastRequests_AndIsCounted()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(), out var registry);
        var replicas = LlmTestData.Replicas(3);
        using var a = await router.AcquireAsync("pin", [replicas[0]], ReadOnlyMemory<byte>.Empty, null);
        using var b = await router.AcquireAsync("pin", [replicas[0]], ReadOnlyMemory<byte>.Empty, null);
        using var c = await router.AcquireAsync("pin", [replicas[2]], ReadOnlyMemory<byte>.Empty, null);
        router.DecisionHook = _ => throw new InvalidOperationException("policy bug");

        using var lease = await router.AcquireAsync("svc", replicas, LlmTestData.Chat(LlmTestData.Text(1, 2000), "q"), null);

        lease.Outcome.Should().Be(LlmOutcome.Routed);
        lease.Reason.Should().Be(LlmRouteReason.Fallback);
        lease.Replica.Should().Be(replicas[1]);
        var samples = await LlmTestData.ScrapeAsync(registry);
        samples.Sample("eas_gateway_llm_fallbacks_total{service=\"svc\",reason=\"error\"}").Should().Be(1);
        samples.Sample("eas_gateway_llm_decisions_total{service=\"svc\",outcome=\"fallback\"}").Should().Be(1);
    }

    [Fact]
    public async Task PolicySlowerThanBudget_RequestUsesLeastRequests_AndIsCounted()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(o => o.DecisionBudgetMs = 1), out var registry);
        var replicas = LlmTestData.Replicas(2);
        using var busy = await router.AcquireAsync("pin", [replicas[0]], ReadOnlyMemory<byte>.Empty, null);
        router.DecisionHook = _ => Thread.Sleep(30);

        using var lease = await router.AcquireAsync("svc", replicas, LlmTestData.Chat(LlmTestData.Text(1, 2000), "q"), null);

        lease.Reason.Should().Be(LlmRouteReason.Fallback);
        lease.Replica.Should().Be(replicas[1]);
        (await LlmTestData.ScrapeAsync(registry)).Sample("eas_gateway_llm_fallbacks_total{service=\"svc\",reason=\"slow\"}").Should().Be(1);
    }

    [Fact]
    public async Task DroppedReplica_TakesNoNewRequest_ItsOpenLeaseStillEnds_AndItsStateIsFreedLater()
    {
        var time = new ManualTime();
        await using var router = LlmTestData.Router(LlmTestData.Options(o => o.PruneAfterMs = 60_000), out _, time);
        var four = LlmTestData.Replicas(4);
        var prefixes = Enumerable.Range(0, 8).Select(p => LlmTestData.Text(400 + p, 4096)).ToArray();
        var open = new List<LlmLease>();
        foreach (var prefix in prefixes)
        {
            open.Add(await router.AcquireAsync("svc", four, LlmTestData.Chat(prefix, "warm"), null));
        }

        var dropped = four[3];
        open.Should().Contain(l => l.Replica == dropped);
        var three = four[..3].Select(r => new LlmReplica(r.InstanceId, r.Address)).ToArray();

        for (var i = 0; i < 200; i++)
        {
            using var lease = await router.AcquireAsync("svc", three, LlmTestData.Chat(prefixes[i % 8], LlmTestData.Text(i, 100)), null);
            lease.Replica.Should().NotBe(dropped);
            lease.Replica.Should().BeSameAs(three.Single(r => r.Equals(lease.Replica)), "the lease reports the current list's object");
        }

        open.ForEach(l => l.Dispose());
        router.GetStatus("svc").Select(s => s.Replica).Should().Equal(three);
        router.Sweep();
        router.IsTracked(dropped).Should().BeTrue("a replica is kept for a while in case it comes back");
        time.Advance(TimeSpan.FromSeconds(61));
        (await router.AcquireAsync("svc", three, LlmTestData.Chat(prefixes[0], "late"), null)).Dispose();
        router.Sweep();
        router.IsTracked(dropped).Should().BeFalse();
        router.IsTracked(three[0]).Should().BeTrue("its service still lists it");
    }

    [Fact]
    public async Task IdleService_LetsGoOfItsReplicas_AndTakesThemBackOnItsNextRequest()
    {
        var time = new ManualTime();
        await using var router = LlmTestData.Router(LlmTestData.Options(o => o.PruneAfterMs = 60_000), out _, time);
        var replicas = LlmTestData.Replicas(2);
        (await router.AcquireAsync("svc", replicas, LlmTestData.Chat("s", "q"), "session-1")).Dispose();

        time.Advance(TimeSpan.FromSeconds(61));
        router.Sweep();
        router.GetStatus("svc").Should().BeEmpty();
        router.IsTracked(replicas[0]).Should().BeTrue("replicas are freed only after PruneAfterMs unlisted");
        time.Advance(TimeSpan.FromSeconds(61));
        router.Sweep();
        router.IsTracked(replicas[0]).Should().BeFalse();

        using var lease = await router.AcquireAsync("svc", replicas, LlmTestData.Chat("s", "q"), "session-1");
        lease.IsRouted.Should().BeTrue();
        lease.Reason.Should().NotBe(LlmRouteReason.Session, "the idle key's sessions were dropped");
        router.GetStatus("svc").Should().HaveCount(2);
    }

    [Fact]
    public async Task Retry_MovesToAnUntriedReplica_OnlyBeforeTheFirstByte()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(o => o.MaxRetries = 5), out var registry);
        var replicas = LlmTestData.Replicas(3);
        using var lease = await router.AcquireAsync("svc", replicas, LlmTestData.Chat(LlmTestData.Text(1, 2000), "q"), null);
        var seen = new List<LlmReplica> { lease.Replica! };

        lease.RetryExcluding().Should().BeTrue();
        seen.Add(lease.Replica!);
        lease.RetryExcluding().Should().BeTrue();
        seen.Add(lease.Replica!);
        seen.Should().OnlyHaveUniqueItems();
        router.GetStatus("svc").Sum(s => s.InFlight).Should().Be(1, "a retry releases the replica it leaves");

        lease.RetryExcluding().Should().BeFalse("every replica was tried");
        lease.IsRouted.Should().BeFalse();
        router.GetStatus("svc").Sum(s => s.InFlight).Should().Be(0);
        (await LlmTestData.ScrapeAsync(registry)).Sample("eas_gateway_llm_retries_total{service=\"svc\"}").Should().Be(2);

        using var streaming = await router.AcquireAsync("svc", replicas, LlmTestData.Chat(LlmTestData.Text(2, 2000), "q"), null);
        streaming.FirstByte();
        streaming.RetryExcluding().Should().BeFalse("bytes of the response already went to the client");
    }

    [Fact]
    public async Task Retry_RespectsMaxRetries()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(o => o.MaxRetries = 1), out _);
        using var lease = await router.AcquireAsync("svc", LlmTestData.Replicas(4), ReadOnlyMemory<byte>.Empty, null);

        lease.RetryExcluding().Should().BeTrue();
        lease.RetryExcluding().Should().BeFalse();
    }

    [Fact]
    public async Task UnreachableReplica_IsAvoidedUntilItsDownHoldPasses()
    {
        var time = new ManualTime();
        await using var router = LlmTestData.Router(LlmTestData.Options(o => o.DownHoldMs = 2000), out _, time);
        var replicas = LlmTestData.Replicas(2);
        var prompt = LlmTestData.Text(1, 4096);
        var lease = await router.AcquireAsync("svc", replicas, LlmTestData.Chat(prompt, "a"), null);
        var refused = lease.Replica!;

        lease.RetryExcluding(replicaUnreachable: true).Should().BeTrue();
        lease.Replica.Should().NotBe(refused);
        lease.Dispose();

        // Both replicas now hold the prefix; the refused one must still be skipped.
        for (var i = 0; i < 5; i++)
        {
            using var next = await router.AcquireAsync("svc", replicas, LlmTestData.Chat(prompt, "b" + i), null);
            next.Replica.Should().NotBe(refused);
        }

        router.GetStatus("svc").Single(s => s.Replica == refused).Down.Should().BeTrue();
        time.Advance(TimeSpan.FromSeconds(3));
        router.GetStatus("svc").Single(s => s.Replica == refused).Down.Should().BeFalse();
        var placed = new HashSet<LlmReplica>();
        for (var i = 0; i < 4; i++)
        {
            using var again = await router.AcquireAsync("svc", replicas, LlmTestData.Chat(LlmTestData.Text(50 + i, 4096), "c"), null);
            placed.Add(again.Replica!);
        }

        placed.Should().Contain(refused);
    }

    [Fact]
    public async Task FirstByteAndDispose_ReleasePendingPrefillAndInFlight()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(), out _);
        var replicas = LlmTestData.Replicas(1);
        var lease = await router.AcquireAsync("svc", replicas, LlmTestData.Completion(LlmTestData.Text(1, 4000)), null);

        lease.UncachedTokens.Should().Be(1000, "4000 bytes at 4 bytes per token, nothing cached yet");
        var status = router.GetStatus("svc").Single();
        status.InFlight.Should().Be(1);
        status.PendingPrefillTokens.Should().Be(1000);

        lease.FirstByte();
        router.GetStatus("svc").Single().PendingPrefillTokens.Should().Be(0);
        router.GetStatus("svc").Single().InFlight.Should().Be(1);

        lease.Dispose();
        lease.Dispose();
        router.GetStatus("svc").Single().InFlight.Should().Be(0);

        using var cached = await router.AcquireAsync("svc", replicas, LlmTestData.Completion(LlmTestData.Text(1, 4000)), null);
        cached.MatchedBlocks.Should().Be(4000 / 64);
        cached.UncachedTokens.Should().Be(8, "only the partial last block (4000 - 62 × 64 = 32 bytes) is uncached");
    }

    [Fact]
    public async Task NoReplicas_Answers503()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(), out var registry);

        using var lease = await router.AcquireAsync("svc", [], LlmTestData.Chat("s", "q"), null);

        lease.Outcome.Should().Be(LlmOutcome.NoReplica);
        lease.StatusCode.Should().Be(503);
        (await LlmTestData.ScrapeAsync(registry)).Sample("eas_gateway_llm_decisions_total{service=\"svc\",outcome=\"no_replica\"}").Should().Be(1);
    }

    [Fact]
    public async Task NotAnOpenAiBody_IsRoutedByLoad()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(), out _);
        var replicas = LlmTestData.Replicas(3);
        var leases = new List<LlmLease>();
        for (var i = 0; i < 6; i++)
        {
            leases.Add(await router.AcquireAsync("svc", replicas, "GET /v1/models"u8.ToArray(), null));
        }

        leases.Should().AllSatisfy(l => l.Reason.Should().Be(LlmRouteReason.Load));
        leases.GroupBy(l => l.Replica).Select(g => g.Count()).Should().Equal(2, 2, 2);
        leases.ForEach(l => l.Dispose());
    }

    [Fact]
    public async Task Metrics_CountDecisionsPromptBlocksAndHits()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(), out var registry);
        var replicas = LlmTestData.Replicas(2);
        var prompt = LlmTestData.Text(1, 640);
        (await router.AcquireAsync("svc", replicas, LlmTestData.Completion(prompt), null)).Dispose();
        (await router.AcquireAsync("svc", replicas, LlmTestData.Completion(prompt), null)).Dispose();

        var samples = await LlmTestData.ScrapeAsync(registry);

        samples.Sample("eas_gateway_llm_decisions_total{service=\"svc\",outcome=\"load\"}").Should().Be(1);
        samples.Sample("eas_gateway_llm_decisions_total{service=\"svc\",outcome=\"prefix\"}").Should().Be(1);
        samples.Sample("eas_gateway_llm_prompt_blocks_total{service=\"svc\"}").Should().Be(20);
        samples.Sample("eas_gateway_llm_prefix_hit_blocks_total{service=\"svc\"}").Should().Be(10);
        samples.Sample("eas_gateway_llm_decision_seconds_count").Should().Be(2);
    }

    [Fact]
    public async Task PolicyThrowsWhileEveryReplicaIsSaturated_TheRequestWaitsInsteadOfOverloading()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(o => o.MaxInFlightPerReplica = 1), out _);
        var replicas = LlmTestData.Replicas(1);
        var holder = await router.AcquireAsync("svc", replicas, ReadOnlyMemory<byte>.Empty, null);
        router.DecisionHook = _ => throw new InvalidOperationException("policy bug");

        var waiting = router.AcquireAsync("svc", replicas, LlmTestData.Chat("s", "q"), null).AsTask();

        waiting.IsCompleted.Should().BeFalse();
        holder.Dispose();
        using var lease = await waiting.WaitAsync(TimeSpan.FromSeconds(20));
        lease.IsRouted.Should().BeTrue();
    }

    /// <summary>
    /// A closed loop of <paramref name="concurrency"/> open requests: each new request waits for the oldest to end;
    /// a request's first byte comes <paramref name="prefillDelay"/> arrivals after it. Returns requests per replica.
    /// </summary>
    private static async Task<Dictionary<string, int>> RunClosedLoop(LlmRouter router, int replicaCount, Func<int, string> prefix, int requests, int concurrency, int prefillDelay, Action<int, LlmLease>? observe = null, Func<int, string>? user = null)
    {
        var replicas = LlmTestData.Replicas(replicaCount);
        var open = new List<LlmLease>();
        var counts = replicas.ToDictionary(r => r.InstanceId, _ => 0);
        for (var i = 0; i < requests; i++)
        {
            var lease = await router.AcquireAsync("svc", replicas, LlmTestData.Chat(prefix(i), user?.Invoke(i) ?? LlmTestData.Text(100_000 + i, 256)), null);
            counts[lease.Replica!.InstanceId]++;
            observe?.Invoke(i, lease);
            open.Add(lease);
            if (open.Count > prefillDelay)
            {
                open[^(prefillDelay + 1)].FirstByte();
            }

            if (open.Count > concurrency)
            {
                open[0].Dispose();
                open.RemoveAt(0);
            }
        }

        open.ForEach(l => l.Dispose());
        return counts;
    }

    [Fact]
    public async Task ReplicaGauges_ShowEachReplicasInFlightAndPendingPrefill_AndGoBackToZero()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(), out var registry);
        var replicas = LlmTestData.Replicas(2);
        var first = await router.AcquireAsync("svc", replicas, LlmTestData.Chat(LlmTestData.Text(1, 1024), "a"), null);
        var second = await router.AcquireAsync("svc", replicas, LlmTestData.Chat(LlmTestData.Text(2, 1024), "b"), null);
        first.FirstByte();

        var during = await LlmTestData.ScrapeAsync(registry);
        var inFlight = replicas.Select(r => during.Sample($"eas_gateway_llm_replica_in_flight{{service=\"svc\",instance=\"{r.InstanceId}\"}}")).ToArray();
        inFlight.Sum().Should().Be(2);
        during.Sample($"eas_gateway_llm_replica_pending_prefill_tokens{{service=\"svc\",instance=\"{second.Replica!.InstanceId}\"}}").Should().Be(second.UncachedTokens);
        second.UncachedTokens.Should().BePositive();

        first.Dispose();
        second.Dispose();
        var after = await LlmTestData.ScrapeAsync(registry);
        replicas.Select(r => after.Sample($"eas_gateway_llm_replica_in_flight{{service=\"svc\",instance=\"{r.InstanceId}\"}}")).Should().AllBeEquivalentTo(0);
        replicas.Select(r => after.Sample($"eas_gateway_llm_replica_pending_prefill_tokens{{service=\"svc\",instance=\"{r.InstanceId}\"}}")).Should().AllBeEquivalentTo(0);
    }

    [Theory]
    [InlineData("/api/predict/llm/v1/chat/completions", true)]
    [InlineData("/v1/completions/", true)]
    [InlineData("/V1/Chat/Completions", true)]
    [InlineData("/v1/models", false)]
    [InlineData("/v1/embeddings", false)]
    public void IsCompletionsPath_RecognisesOpenAiCompletionPaths(string path, bool expected) =>
        LlmRouter.IsCompletionsPath(path).Should().Be(expected);
}
