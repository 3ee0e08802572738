using Eas.Node.Gateway.Llm;
using Eas.Node.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Eas.Node.Gateway.Tests.Llm;

/// <summary>Engine metrics scraped from real loopback HTTP servers in the vLLM and SGLang formats.</summary>
public sealed class LlmScrapeTests : IAsyncLifetime
{
    private static readonly TimeSpan _wait = TimeSpan.FromSeconds(20);
    private readonly Engine _a = new();
    private readonly Engine _b = new();

    public async Task InitializeAsync()
    {
        await _a.StartAsync("a");
        await _b.StartAsync("b");
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    [Fact]
    public async Task Scrape_ReadsVllmGauges_AndSizesTheIndexFromCacheConfig()
    {
        _a.Text = """
            # HELP vllm:num_requests_waiting Number of requests waiting to be processed.
            # TYPE vllm:num_requests_waiting gauge
            vllm:num_requests_waiting{engine="0",model_name="m{1}"} 2.0
            vllm:num_requests_waiting{engine="1",model_name="lora \"x\""} 1.0
            vllm:num_requests_running{engine="0",model_name="m{1}"} 5.0
            vllm:kv_cache_usage_perc{engine="0",model_name="m{1}"} 0.42
            vllm:cache_config_info{block_size="16",cache_dtype="auto",num_gpu_blocks="4096",enable_prefix_caching="True"} 1.0
            vllm:time_to_first_token_seconds_bucket{le="0.001",model_name="m{1}"} 0.0
            vllm:prefix_cache_hits_total{model_name="m{1}"} 12345.0
            """;
        await using var router = Router(o => o.PrefixCapacityFromMetrics = true);
        var replica = new LlmReplica("a0", _a.Address);
        (await router.AcquireAsync("svc", [replica], ReadOnlyMemory<byte>.Empty, null)).Dispose();

        await router.ScrapeOnceAsync(CancellationToken.None);

        var status = router.GetStatus("svc").Single();
        status.EngineWaiting.Should().Be(3);
        status.EngineRunning.Should().Be(5);
        status.KvUsage.Should().Be(0.42);
        status.Saturated.Should().BeFalse();
        status.CapacityBlocks.Should().Be(16 * 4096 * 4 / 64, "65536 tokens × 4 bytes per token in 64-byte blocks");
        _a.Paths.Should().Contain("/metrics");
    }

    [Fact]
    public async Task Scrape_ReadsSglangGauges()
    {
        _a.Text = """
            sglang:num_queue_reqs{model_name="m"} 9
            sglang:num_running_reqs{model_name="m"} 32
            sglang:token_usage{model_name="m"} 0.5
            """;
        await using var router = Router();
        var replica = new LlmReplica("a0", _a.Address);
        (await router.AcquireAsync("svc", [replica], ReadOnlyMemory<byte>.Empty, null)).Dispose();

        await router.ScrapeOnceAsync(CancellationToken.None);

        var status = router.GetStatus("svc").Single();
        (status.EngineWaiting, status.EngineRunning, status.KvUsage).Should().Be((9, 32, 0.5));
        status.Saturated.Should().BeTrue("9 waiting is over the threshold 8");
    }

    [Fact]
    public async Task SaturatedReplicas_AreSkipped_ByQueueOrByKvCache()
    {
        var c = new Engine();
        await c.StartAsync("c");
        try
        {
            _a.Text = "vllm:num_requests_waiting 20\nvllm:kv_cache_usage_perc 0.3\n";
            _b.Text = "vllm:num_requests_waiting 0\nvllm:kv_cache_usage_perc 0.2\n";
            c.Text = "vllm:num_requests_waiting 0\nvllm:gpu_cache_usage_perc 0.97\n";
            await using var router = Router();
            LlmReplica[] replicas = [new("a0", _a.Address), new("b0", _b.Address), new("c0", c.Address)];
            (await router.AcquireAsync("svc", replicas, ReadOnlyMemory<byte>.Empty, null)).Dispose();
            await router.ScrapeOnceAsync(CancellationToken.None);

            var leases = new List<LlmLease>();
            for (var i = 0; i < 12; i++)
            {
                leases.Add(await router.AcquireAsync("svc", replicas, LlmTestData.Chat(LlmTestData.Text(i, 1000), "q"), null));
            }

            leases.Should().AllSatisfy(l => l.Replica!.InstanceId.Should().Be("b0"));
            router.GetStatus("svc").Select(s => s.Saturated).Should().Equal(true, false, true);
            leases.ForEach(l => l.Dispose());
        }
        finally
        {
            await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task BetweenScrapes_RequestsSentToAQueueingEngine_CountAsWaiting()
    {
        _a.Text = "vllm:num_requests_waiting 5\n";
        await using var router = Router();
        LlmReplica[] replicas = [new("a0", _a.Address)];
        (await router.AcquireAsync("svc", replicas, ReadOnlyMemory<byte>.Empty, null)).Dispose();
        await router.ScrapeOnceAsync(CancellationToken.None);

        var sent = new List<LlmLease>();
        for (var i = 0; i < 3; i++)
        {
            sent.Add(await router.AcquireAsync("svc", replicas, ReadOnlyMemory<byte>.Empty, null));
        }

        sent.Should().AllSatisfy(l => l.IsRouted.Should().BeTrue());
        router.GetStatus("svc").Single().Saturated.Should().BeTrue("5 waiting at the scrape + 3 sent since reaches the threshold 8");
        var queued = router.AcquireAsync("svc", replicas, ReadOnlyMemory<byte>.Empty, null).AsTask();
        queued.IsCompleted.Should().BeFalse();

        sent[0].Dispose();
        using var routed = await queued.WaitAsync(_wait);
        routed.IsRouted.Should().BeTrue("a finished request lets one waiting request in");
        sent.ForEach(l => l.Dispose());
    }

    [Fact]
    public async Task AllSaturated_QueuedRequestRoutes_WhenAScrapeShowsRoom()
    {
        _a.Text = "vllm:num_requests_waiting 30\n";
        _b.Text = "vllm:num_requests_waiting 30\n";
        await using var router = Router();
        LlmReplica[] replicas = [new("a0", _a.Address), new("b0", _b.Address)];
        (await router.AcquireAsync("svc", replicas, ReadOnlyMemory<byte>.Empty, null)).Dispose();
        await router.ScrapeOnceAsync(CancellationToken.None);

        var queued = router.AcquireAsync("svc", replicas, LlmTestData.Chat("s", "q"), null).AsTask();
        queued.IsCompleted.Should().BeFalse();

        _b.Text = "vllm:num_requests_waiting 1\n";
        await router.ScrapeOnceAsync(CancellationToken.None);

        using var lease = await queued.WaitAsync(_wait);
        lease.Replica!.InstanceId.Should().Be("b0");
    }

    [Fact]
    public async Task FailedScrape_LeavesGatewaySideCountsOnly()
    {
        _a.Text = "vllm:num_requests_waiting 50\n";
        await using var router = Router(registry: out var registry);
        LlmReplica[] replicas = [new("a0", _a.Address)];
        (await router.AcquireAsync("svc", replicas, ReadOnlyMemory<byte>.Empty, null)).Dispose();
        await router.ScrapeOnceAsync(CancellationToken.None);
        router.GetStatus("svc").Single().Saturated.Should().BeTrue();

        _a.Status = 500;
        await router.ScrapeOnceAsync(CancellationToken.None);

        var status = router.GetStatus("svc").Single();
        status.Saturated.Should().BeFalse("without metrics the replica is judged by the gateway's own counts");
        status.EngineWaiting.Should().BeNull();
        status.Down.Should().BeFalse("it answered, just not with metrics");
        using var lease = await router.AcquireAsync("svc", replicas, ReadOnlyMemory<byte>.Empty, null);
        lease.IsRouted.Should().BeTrue();
        (await LlmTestData.ScrapeAsync(registry)).Sample("eas_gateway_llm_scrape_errors_total").Should().Be(1);
    }

    [Fact]
    public async Task RefusedScrape_MarksTheReplicaDown_UntilAScrapeSucceeds()
    {
        _b.Text = "vllm:num_requests_waiting 0\n";
        await using var router = Router(o => o.DownHoldMs = 3_600_000);
        var dead = new LlmReplica("dead", Ports.RefusingAddress());
        LlmReplica[] replicas = [dead, new("b0", _b.Address)];
        (await router.AcquireAsync("svc", replicas, ReadOnlyMemory<byte>.Empty, null)).Dispose();

        await router.ScrapeOnceAsync(CancellationToken.None);

        router.GetStatus("svc").Single(s => s.Replica == dead).Down.Should().BeTrue();
        for (var i = 0; i < 6; i++)
        {
            using var lease = await router.AcquireAsync("svc", replicas, LlmTestData.Chat(LlmTestData.Text(i, 500), "q"), null);
            lease.Replica.Should().NotBe(dead);
        }
    }

    [Fact]
    public async Task ScrapeLoop_RunsOnItsInterval()
    {
        _a.Text = "vllm:num_requests_waiting 4\nvllm:num_requests_running 2\n";
        await using var router = new LlmRouter(new LlmRoutingOptions { ScrapeIntervalMs = 50, ScrapeTimeoutMs = 10_000, DecisionBudgetMs = 10_000 }, Prometheus.Metrics.NewCustomRegistry());
        (await router.AcquireAsync("svc", [new LlmReplica("a0", _a.Address)], ReadOnlyMemory<byte>.Empty, null)).Dispose();

        var deadline = DateTime.UtcNow + _wait;
        while (router.GetStatus("svc").Single().EngineWaiting is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        router.GetStatus("svc").Single().EngineWaiting.Should().Be(4);
    }

    // Scrapes only when the test says so: the loop's own interval is an hour. The timeout is generous because a
    // process's first HTTP call (JIT, connection) can take longer than the default 400 ms on a busy test machine.
    private static LlmRouter Router(Action<LlmRoutingOptions>? change = null) => Router(change, out _);

    private static LlmRouter Router(out Prometheus.CollectorRegistry registry) => Router(null, out registry);

    private static LlmRouter Router(Action<LlmRoutingOptions>? change, out Prometheus.CollectorRegistry registry)
    {
        var options = new LlmRoutingOptions { ScrapeIntervalMs = 3_600_000, MetricsStaleAfterMs = 3_600_000, ScrapeTimeoutMs = 10_000, DecisionBudgetMs = 10_000 };
        change?.Invoke(options);
        registry = Prometheus.Metrics.NewCustomRegistry();
        return new LlmRouter(options, registry);
    }

    /// <summary>A loopback server standing in for an engine's /metrics endpoint.</summary>
    private sealed class Engine : IAsyncDisposable
    {
        private Backend? _backend;
        private volatile string _text = "";
        private volatile int _status = 200;

        public string Text
        {
            get => _text;
            set => _text = value;
        }

        public int Status
        {
            get => _status;
            set => _status = value;
        }

        public string Address => _backend!.Address;

        public IEnumerable<string> Paths => _backend!.Seen.Select(s => s.Path);

        public async Task StartAsync(string name) =>
            _backend = await Backend.StartAsync(name, async context =>
            {
                context.Response.StatusCode = Status;
                context.Response.ContentType = "text/plain; version=0.0.4";
                await context.Response.WriteAsync(Text);
            });

        public async ValueTask DisposeAsync()
        {
            if (_backend is not null)
            {
                await _backend.DisposeAsync();
            }
        }
    }
}
