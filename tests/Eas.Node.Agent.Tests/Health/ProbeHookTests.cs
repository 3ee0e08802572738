using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Eas.Node.Agent.Health;
using Eas.Node.Agent.Instances;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Eas.Node.Agent.Tests.Health;

/// <summary>
/// The probe hook as the runner starts it for a run: startup gating, readiness and liveness side by side, the default
/// TCP readiness, and what it tells the runner. Real loopback listeners; a fake clock moved by the test (timeouts
/// are long, so only the periods count).
/// </summary>
public sealed class ProbeHookTests
{
    private static Probe HttpProbe(int port, string path, int failure = 3) => new()
    {
        HttpGet = new HttpGetCheck { Path = path, Port = port, Scheme = "HTTP" },
        PeriodSeconds = 1,
        TimeoutSeconds = 3600,
        FailureThreshold = failure,
        SuccessThreshold = 1,
    };

    private sealed class Watcher
    {
        public ConcurrentQueue<(bool Ready, string Reason)> Readiness { get; } = new();

        public ConcurrentQueue<string> Unhealthy { get; } = new();

        public InstanceContext Attach(InstanceContext context)
        {
            context.ReadinessChanged = (ready, reason) => Readiness.Enqueue((ready, reason));
            context.Unhealthy = Unhealthy.Enqueue;
            return context;
        }
    }

    [Fact]
    public async Task Startup_GatesTheOthers_ThenLivenessFailure_MarksNotReadyAndReportsUnhealthyOnce()
    {
        int[] startupScript = [503, 503, 200];
        await using var startup = new ScriptedHttpServer(n => startupScript[Math.Min(n, startupScript.Length) - 1]);
        await using var ready = new ScriptedHttpServer();
        using var live = new TcpListener(IPAddress.Loopback, 0);
        live.Start();
        var livePort = ((IPEndPoint)live.LocalEndpoint).Port;
        var spec = new InstanceSpec
        {
            Port = ready.Port,
            StartupCheck = HttpProbe(startup.Port, "/started", failure: 5),
            ReadinessCheck = HttpProbe(ready.Port, "/ready", failure: 1),
            LivenessCheck = new Probe { TcpSocket = new TcpSocketCheck { Port = livePort }, PeriodSeconds = 1, TimeoutSeconds = 3600, FailureThreshold = 2 },
        };
        var watcher = new Watcher();
        var context = watcher.Attach(ProbeChecksTests.Context(spec));
        var time = new FakeTimeProvider();
        var logger = new ErrorLogger();
        using var run = new CancellationTokenSource();

        await new ProbeHook(new ScriptedExec(), time, logger).PoststartAsync(context, run.Token);
        await DriveAsync(time, () => watcher.Readiness.Contains((true, "")));

        startup.Count.Should().Be(3, "the startup check stops at its first pass");
        var started = startup.Answers[2].Sequence;
        ready.Answers.Should().NotBeEmpty().And.OnlyContain(a => a.Sequence > started && a.Path == "/ready", "readiness waits for the startup check");

        live.Stop();
        await DriveAsync(time, () => !watcher.Unhealthy.IsEmpty);
        var reason = $"liveness check failed 2 times in a row: TCP connect to 127.0.0.1:{livePort} failed: connection refused (nothing listens on the port)";
        watcher.Unhealthy.Should().Equal(reason);
        watcher.Readiness.Last().Should().Be((false, reason + "; restarting"), "an instance being restarted takes no more requests");

        var asked = ready.Count;
        await AdvanceAsync(time, TimeSpan.FromSeconds(5));
        ready.Count.Should().Be(asked, "readiness stops once liveness failed");
        watcher.Unhealthy.Should().ContainSingle();
        logger.Errors.Should().BeEmpty("stopping the other checks is no error");
        await run.CancelAsync();
    }

    [Fact]
    public async Task Startup_Failing_ReportsUnhealthy_AndNeverChecksReadiness()
    {
        await using var startup = new ScriptedHttpServer { Status = 500 };
        await using var ready = new ScriptedHttpServer();
        var spec = new InstanceSpec
        {
            Port = ready.Port,
            StartupCheck = HttpProbe(startup.Port, "/started", failure: 2),
            ReadinessCheck = HttpProbe(ready.Port, "/ready"),
        };
        var watcher = new Watcher();
        var time = new FakeTimeProvider();
        using var run = new CancellationTokenSource();

        await new ProbeHook(new ScriptedExec(), time, NullLogger<ProbeHook>.Instance).PoststartAsync(watcher.Attach(ProbeChecksTests.Context(spec)), run.Token);
        await DriveAsync(time, () => !watcher.Unhealthy.IsEmpty);
        await AdvanceAsync(time, TimeSpan.FromSeconds(3));

        watcher.Unhealthy.Should().Equal($"startup check failed 2 times in a row: GET http://127.0.0.1:{startup.Port}/started returned 500");
        startup.Count.Should().Be(2);
        ready.Count.Should().Be(0);
        watcher.Readiness.Should().BeEmpty();
        await run.CancelAsync();
    }

    [Fact]
    public async Task NoReadinessCheck_DefaultsToTcpOnThePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var watcher = new Watcher();
        var time = new FakeTimeProvider();
        using var run = new CancellationTokenSource();

        await new ProbeHook(new ScriptedExec(), time, NullLogger<ProbeHook>.Instance).PoststartAsync(watcher.Attach(ProbeChecksTests.Context(new InstanceSpec { Port = port })), run.Token);
        await DriveAsync(time, () => !watcher.Readiness.IsEmpty);
        watcher.Readiness.Should().Equal((true, ""));

        listener.Stop();
        await DriveAsync(time, () => watcher.Readiness.Count == 2);
        watcher.Readiness.Last().Should().Be((false, $"readiness check failed: TCP connect to 127.0.0.1:{port} failed: connection refused (nothing listens on the port)"));
        await run.CancelAsync();
    }

    [Fact]
    public async Task NoReadinessCheck_WaitingForTheFirstConnection_SaysNothingUntilItTakesLong()
    {
        var port = ProbeChecksTests.ClosedPort();
        var watcher = new Watcher();
        var time = new FakeTimeProvider();
        using var run = new CancellationTokenSource();

        await new ProbeHook(new ScriptedExec(), time, NullLogger<ProbeHook>.Instance).PoststartAsync(watcher.Attach(ProbeChecksTests.Context(new InstanceSpec { Port = port })), run.Token);
        await AdvanceAsync(time, TimeSpan.FromSeconds(25));
        watcher.Readiness.Should().BeEmpty("a process that is still starting is not failing");

        await DriveAsync(time, () => !watcher.Readiness.IsEmpty);
        watcher.Readiness.Should().Equal((false, $"not ready yet: no TCP connection for 30 s (TCP connect to 127.0.0.1:{port} failed: connection refused (nothing listens on the port))"));
        await run.CancelAsync();
    }

    [Fact]
    public async Task NoPortAndNoReadinessCheck_ReadyOnceRunning()
    {
        var watcher = new Watcher();
        using var run = new CancellationTokenSource();

        await new ProbeHook(new ScriptedExec(), TimeProvider.System, NullLogger<ProbeHook>.Instance).PoststartAsync(watcher.Attach(ProbeChecksTests.Context(new InstanceSpec())), run.Token);
        await ProbeWorkerTests.WaitAsync(() => !watcher.Readiness.IsEmpty);

        watcher.Readiness.Should().Equal((true, ""));
        await run.CancelAsync();
    }

    [Fact]
    public async Task ExecReadiness_RunsTheCommandInTheInstance_WithItsTimeout()
    {
        var exec = new ScriptedExec(new ExecResult(1, false, ""));
        var spec = new InstanceSpec
        {
            Port = 8000,
            ReadinessCheck = new Probe { Exec = new ExecCheck { Command = { "test", "-f", "/data/ready" } }, PeriodSeconds = 1, TimeoutSeconds = 2, FailureThreshold = 3 },
        };
        var watcher = new Watcher();
        var context = watcher.Attach(ProbeChecksTests.Context(spec));
        var time = new FakeTimeProvider();
        using var run = new CancellationTokenSource();

        await new ProbeHook(exec, time, NullLogger<ProbeHook>.Instance).PoststartAsync(context, run.Token);
        await DriveAsync(time, () => !watcher.Readiness.IsEmpty);
        watcher.Readiness.Should().Equal((false, "readiness check failed 3 times in a row: exec `test -f /data/ready` exited with code 1"));
        exec.Calls.Should().HaveCount(3);

        exec.Next = new ExecResult(0, false, "");
        await DriveAsync(time, () => watcher.Readiness.Count == 2);
        watcher.Readiness.Last().Should().Be((true, ""));
        exec.Calls.Should().OnlyContain(c => c.Context == context && c.Timeout == TimeSpan.FromSeconds(2) && string.Join(' ', c.Command) == "test -f /data/ready");
        await run.CancelAsync();
    }

    [Fact]
    public async Task RunEnded_NoMoreChecksAndNoMoreReports()
    {
        await using var ready = new ScriptedHttpServer();
        var watcher = new Watcher();
        var time = new FakeTimeProvider();
        using var run = new CancellationTokenSource();
        var spec = new InstanceSpec { Port = ready.Port, ReadinessCheck = HttpProbe(ready.Port, "/ready", failure: 1) };

        await new ProbeHook(new ScriptedExec(), time, NullLogger<ProbeHook>.Instance).PoststartAsync(watcher.Attach(ProbeChecksTests.Context(spec)), run.Token);
        await DriveAsync(time, () => ready.Count >= 3);
        await run.CancelAsync();
        var asked = ready.Count;
        var reports = watcher.Readiness.Count;
        ready.Status = 503;
        await AdvanceAsync(time, TimeSpan.FromSeconds(5));

        ready.Count.Should().BeInRange(asked, asked + 1, "at most the check in flight when the run ended");
        watcher.Readiness.Should().HaveCount(reports);
    }

    /// <summary>Keeps what is logged at Error level.</summary>
    private sealed class ErrorLogger : ILogger<ProbeHook>
    {
        public ConcurrentQueue<string> Errors { get; } = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Error)
            {
                Errors.Enqueue(formatter(state, exception) + " " + exception);
            }
        }
    }

    /// <summary>Moves the fake clock in small steps, letting real I/O finish between them, until <paramref name="until"/> holds.</summary>
    private static async Task DriveAsync(FakeTimeProvider time, Func<bool> until)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!until())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the expected probe reports did not come by fake time {time.GetUtcNow():HH:mm:ss.fff}");
            }

            time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Delay(5);
        }
    }

    private static async Task AdvanceAsync(FakeTimeProvider time, TimeSpan span)
    {
        for (var moved = TimeSpan.Zero; moved < span; moved += TimeSpan.FromMilliseconds(100))
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Delay(5);
        }
    }
}
