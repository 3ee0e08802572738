using System.Collections.Concurrent;
using Eas.Node.Agent.Health;
using Microsoft.Extensions.Time.Testing;

namespace Eas.Node.Agent.Tests.Health;

/// <summary>
/// Thresholds, timing and stopping of one probe, against real loopback HTTP servers with short real periods
/// (the counts are what is asserted, never how long anything took), and a fake clock for the initial delay.
/// </summary>
public sealed class ProbeWorkerTests
{
    private static readonly TimeSpan _wait = TimeSpan.FromSeconds(20);

    private static ProbeTiming Fast(int failure = 3, int success = 1) =>
        new(TimeSpan.Zero, TimeSpan.FromMilliseconds(20), TimeSpan.FromSeconds(10), failure, success);

    private static ProbeWorker Http(string name, ScriptedHttpServer server, ProbeTiming timing, TimeProvider? time = null) =>
        new(name, timing, new HttpProbeCheck(new Uri($"http://127.0.0.1:{server.Port}/health"), time ?? TimeProvider.System), time ?? TimeProvider.System);

    [Fact]
    public async Task Readiness_ReadyAfterSuccessThreshold_NotReadyAfterFailureThreshold_AndBack()
    {
        await using var server = new ScriptedHttpServer();
        var changes = new ConcurrentQueue<(bool Ready, string Reason, IReadOnlyList<ScriptedHttpServer.Served> Answers)>();
        using var run = new CancellationTokenSource();
        var watch = Http("readiness", server, Fast(failure: 3, success: 2))
            .WatchAsync(DateTimeOffset.UtcNow, (ready, reason) => changes.Enqueue((ready, reason, server.Answers)), run.Token);

        await WaitAsync(() => changes.Count == 1);
        var first = changes.Single();
        (first.Ready, first.Reason).Should().Be((true, ""));
        first.Answers.Should().HaveCount(2, "success_threshold 2: ready after the second pass in a row");

        server.Status = 503;
        await WaitAsync(() => changes.Count == 2);
        var notReady = changes.ElementAt(1);
        notReady.Ready.Should().BeFalse();
        notReady.Reason.Should().Be($"readiness check failed 3 times in a row: GET http://127.0.0.1:{server.Port}/health returned 503");
        notReady.Answers.Count(a => a.Status == 503).Should().Be(3, "failure_threshold 3: not ready at the third failure, not before");

        server.Status = 200;
        await WaitAsync(() => changes.Count == 3);
        var again = changes.ElementAt(2);
        again.Ready.Should().BeTrue();
        again.Answers.SkipWhile(a => a.Status == 200).SkipWhile(a => a.Status == 503).Should().HaveCount(2, "two passes in a row again");

        await run.CancelAsync();
        await watch.Invoking(w => w).Should().ThrowAsync<OperationCanceledException>();
    }

    [Fact]
    public async Task Readiness_NeverPassing_ReportsItsReasonOnce()
    {
        await using var server = new ScriptedHttpServer { Status = 500 };
        var changes = new ConcurrentQueue<(bool Ready, string Reason, int Answers)>();
        using var run = new CancellationTokenSource();
        var watch = Http("readiness", server, Fast(failure: 2))
            .WatchAsync(DateTimeOffset.UtcNow, (ready, reason) => changes.Enqueue((ready, reason, server.Count)), run.Token);

        await WaitAsync(() => server.Count >= 8);
        await run.CancelAsync();
        await watch.Invoking(w => w).Should().ThrowAsync<OperationCanceledException>();

        changes.Should().ContainSingle("the same failure is reported once, not at every check")
            .Which.Should().Be((false, $"readiness check failed 2 times in a row: GET http://127.0.0.1:{server.Port}/health returned 500", 2));
    }

    [Fact]
    public async Task Liveness_FailsAfterThresholdInARow_APassStartsTheCountAgain()
    {
        int[] script = [503, 503, 200, 503, 503, 503, 200, 200];
        await using var server = new ScriptedHttpServer(n => script[Math.Min(n, script.Length) - 1]);

        var verdict = await Http("liveness", server, Fast(failure: 3)).UntilFailedAsync(DateTimeOffset.UtcNow, CancellationToken.None).WaitAsync(_wait);

        verdict.Should().Be(new ProbeVerdict(false, $"liveness check failed 3 times in a row: GET http://127.0.0.1:{server.Port}/health returned 503"));
        server.Count.Should().Be(6, "two failures, a pass, then three failures; no check after the verdict");
    }

    [Fact]
    public async Task Startup_PassesAtTheFirstPass()
    {
        int[] script = [503, 503, 200];
        await using var server = new ScriptedHttpServer(n => script[Math.Min(n, script.Length) - 1]);

        var verdict = await Http("startup", server, Fast(failure: 5)).UntilPassedAsync(DateTimeOffset.UtcNow, CancellationToken.None).WaitAsync(_wait);

        verdict.Should().Be(new ProbeVerdict(true, ""));
        server.Count.Should().Be(3);
    }

    [Fact]
    public async Task Startup_FailsAfterFailureThreshold()
    {
        await using var server = new ScriptedHttpServer { Status = 404 };

        var verdict = await Http("startup", server, Fast(failure: 4)).UntilPassedAsync(DateTimeOffset.UtcNow, CancellationToken.None).WaitAsync(_wait);

        verdict.Should().Be(new ProbeVerdict(false, $"startup check failed 4 times in a row: GET http://127.0.0.1:{server.Port}/health returned 404"));
        server.Count.Should().Be(4);
    }

    [Fact]
    public async Task Liveness_SlowAnswers_FailByTimeout()
    {
        await using var server = new ScriptedHttpServer { Delay = TimeSpan.FromSeconds(30) };
        var timing = new ProbeTiming(TimeSpan.Zero, TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(100), 2, 1);

        var verdict = await Http("liveness", server, timing).UntilFailedAsync(DateTimeOffset.UtcNow, CancellationToken.None).WaitAsync(_wait);

        verdict.Reason.Should().Be($"liveness check failed 2 times in a row: GET http://127.0.0.1:{server.Port}/health: no answer within 0.1 s");
    }

    [Fact]
    public async Task Readiness_Cancelled_StopsChecking()
    {
        await using var server = new ScriptedHttpServer();
        using var run = new CancellationTokenSource();
        var watch = Http("readiness", server, Fast()).WatchAsync(DateTimeOffset.UtcNow, (_, _) => { }, run.Token);
        await WaitAsync(() => server.Count >= 3);

        await run.CancelAsync();
        await watch.Invoking(w => w).Should().ThrowAsync<OperationCanceledException>();
        var after = server.Count;
        await Task.Delay(TimeSpan.FromMilliseconds(300));

        server.Count.Should().Be(after, "no check runs once the run ended");
    }

    [Fact]
    public async Task Checks_StartAfterTheInitialDelayFromTheContainerStart_ThenEveryPeriod()
    {
        var time = new FakeTimeProvider();
        var check = new CountingCheck();
        var timing = new ProbeTiming(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(1), 100, 1);
        var startedAt = time.GetUtcNow();
        time.Advance(TimeSpan.FromSeconds(4)); // the container started 4 s before the probe began
        using var run = new CancellationTokenSource();
        var liveness = new ProbeWorker("liveness", timing, check, time).UntilFailedAsync(startedAt, run.Token);

        time.Advance(TimeSpan.FromSeconds(5.9));
        check.Count.Should().Be(0, "9.9 s after the start is before the 10 s initial delay");
        time.Advance(TimeSpan.FromSeconds(0.1));
        await WaitAsync(() => check.Count == 1);
        time.Advance(TimeSpan.FromSeconds(4.9));
        check.Count.Should().Be(1, "the period is 5 s");
        time.Advance(TimeSpan.FromSeconds(0.1));
        await WaitAsync(() => check.Count == 2);

        await run.CancelAsync();
        await liveness.Invoking(l => l).Should().ThrowAsync<OperationCanceledException>();
    }

    [Fact]
    public void Timing_FromProbeMessage_UsesItsNumbersAndDefaultsForZeros()
    {
        var probe = new Contracts.V1.Probe { InitialDelaySeconds = 2, PeriodSeconds = 3, TimeoutSeconds = 4, FailureThreshold = 5, SuccessThreshold = 6 };

        ProbeTiming.From(probe).Should().Be(new ProbeTiming(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(4), 5, 6));
        ProbeTiming.From(new Contracts.V1.Probe()).Should().Be(new ProbeTiming(TimeSpan.Zero, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1), 3, 1));
    }

    internal static async Task WaitAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + _wait;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the expected probe results did not come");
            }

            await Task.Delay(5);
        }
    }

    private sealed class CountingCheck : IProbeCheck
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public Task<ProbeResult> CheckAsync(TimeSpan timeout, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _count);
            return Task.FromResult(new ProbeResult(false, "counted"));
        }
    }
}
