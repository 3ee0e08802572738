using Eas.Node.Gateway.Llm;

namespace Eas.Node.Gateway.Tests.Llm;

/// <summary>Every replica saturated: requests wait in a bounded FIFO, then 429 (full) or 503 with Retry-After (timeout).</summary>
public sealed class LlmQueueTests
{
    private static readonly TimeSpan _wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task AllSaturated_WaitsThenRoutes_429WhenFull_503WithRetryAfterOnTimeout()
    {
        await using var router = LlmTestData.Router(
            LlmTestData.Options(o =>
            {
                o.MaxInFlightPerReplica = 1;
                o.QueueCapacity = 1;
                o.QueueTimeoutMs = 300;
                o.RetryAfterSeconds = 7;
            }),
            out var registry);
        var replicas = LlmTestData.Replicas(2);
        var a = await router.AcquireAsync("svc", replicas, LlmTestData.Chat("s", "a"), null);
        var b = await router.AcquireAsync("svc", replicas, LlmTestData.Chat("s", "b"), null);
        a.Replica.Should().NotBe(b.Replica);

        var queued = router.AcquireAsync("svc", replicas, LlmTestData.Chat("s", "c"), null).AsTask();
        queued.IsCompleted.Should().BeFalse("both replicas are at MaxInFlightPerReplica");

        using var full = await router.AcquireAsync("svc", replicas, LlmTestData.Chat("s", "d"), null);
        full.Outcome.Should().Be(LlmOutcome.QueueFull);
        full.StatusCode.Should().Be(429);
        full.RetryAfterSeconds.Should().Be(7);
        full.Replica.Should().BeNull();

        a.Dispose();
        using var routed = await queued.WaitAsync(_wait);
        routed.Outcome.Should().Be(LlmOutcome.Routed);
        routed.Replica.Should().Be(a.Replica);
        routed.QueueWait.Should().BeGreaterThan(TimeSpan.Zero);

        using var late = await router.AcquireAsync("svc", replicas, LlmTestData.Chat("s", "e"), null).AsTask().WaitAsync(_wait);
        late.Outcome.Should().Be(LlmOutcome.QueueTimeout);
        late.StatusCode.Should().Be(503);
        late.RetryAfterSeconds.Should().Be(7);
        b.Dispose();

        var samples = await LlmTestData.ScrapeAsync(registry);
        samples.Sample("eas_gateway_llm_decisions_total{service=\"svc\",outcome=\"queue_full\"}").Should().Be(1);
        samples.Sample("eas_gateway_llm_decisions_total{service=\"svc\",outcome=\"queue_timeout\"}").Should().Be(1);
        samples.Sample("eas_gateway_llm_queue_depth{service=\"svc\"}").Should().Be(0);
        samples.Sample("eas_gateway_llm_queue_wait_seconds_count{service=\"svc\"}").Should().Be(1);
    }

    [Fact]
    public async Task Waiters_AreServedInArrivalOrder_AndNewArrivalsDoNotJumpTheQueue()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(o => o.MaxInFlightPerReplica = 1), out _);
        var replicas = LlmTestData.Replicas(1);
        var holder = await router.AcquireAsync("svc", replicas, ReadOnlyMemory<byte>.Empty, null);
        var waiters = new List<Task<LlmLease>>();
        for (var i = 0; i < 4; i++)
        {
            waiters.Add(router.AcquireAsync("svc", replicas, LlmTestData.Completion("p" + i), null).AsTask());
        }

        router.GetStatus("svc").Single().Saturated.Should().BeTrue();
        var current = holder;
        for (var i = 0; i < 4; i++)
        {
            current.Dispose();
            current = await waiters[i].WaitAsync(_wait);
            current.Outcome.Should().Be(LlmOutcome.Routed);
            waiters.Skip(i + 1).Count(w => w.IsCompleted).Should().Be(0, $"waiter {i} was first in line");
        }

        current.Dispose();
    }

    [Fact]
    public async Task CancelledWaiter_LeavesTheQueue()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(o => o.MaxInFlightPerReplica = 1), out var registry);
        var replicas = LlmTestData.Replicas(1);
        using var holder = await router.AcquireAsync("svc", replicas, ReadOnlyMemory<byte>.Empty, null);
        using var cts = new CancellationTokenSource();
        var waiting = router.AcquireAsync("svc", replicas, ReadOnlyMemory<byte>.Empty, null, cts.Token).AsTask();
        (await LlmTestData.ScrapeAsync(registry)).Sample("eas_gateway_llm_queue_depth{service=\"svc\"}").Should().Be(1);

        await cts.CancelAsync();

        await FluentActions.Awaiting(() => waiting.WaitAsync(_wait)).Should().ThrowAsync<OperationCanceledException>();
        (await LlmTestData.ScrapeAsync(registry)).Sample("eas_gateway_llm_queue_depth{service=\"svc\"}").Should().Be(0);
        holder.Dispose();
        using var next = await router.AcquireAsync("svc", replicas, ReadOnlyMemory<byte>.Empty, null).AsTask().WaitAsync(_wait);
        next.Outcome.Should().Be(LlmOutcome.Routed);
    }

    [Fact]
    public async Task ZeroQueueCapacity_Answers429AtOnce()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(o => (o.MaxInFlightPerReplica, o.QueueCapacity) = (1, 0)), out _);
        var replicas = LlmTestData.Replicas(1);
        using var holder = await router.AcquireAsync("svc", replicas, ReadOnlyMemory<byte>.Empty, null);

        using var refused = await router.AcquireAsync("svc", replicas, ReadOnlyMemory<byte>.Empty, null);

        refused.StatusCode.Should().Be(429);
    }

    [Fact]
    public async Task DisposingTheRouter_AnswersWaitersWith503()
    {
        var router = LlmTestData.Router(LlmTestData.Options(o => o.MaxInFlightPerReplica = 1), out _);
        var replicas = LlmTestData.Replicas(1);
        using var holder = await router.AcquireAsync("svc", replicas, ReadOnlyMemory<byte>.Empty, null);
        var waiting = router.AcquireAsync("svc", replicas, ReadOnlyMemory<byte>.Empty, null).AsTask();

        await router.DisposeAsync();

        (await waiting.WaitAsync(_wait)).StatusCode.Should().Be(503);
    }
}
