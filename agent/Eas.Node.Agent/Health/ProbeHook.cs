using System.Net;
using Eas.Node.Agent.Instances;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.Logging;

namespace Eas.Node.Agent.Health;

/// <summary>
/// The instance's health checks, started for each run of its container (Kubernetes' probe semantics):
/// <list type="number">
/// <item>the startup check, when configured, runs first and holds back the others; failure_threshold failures in a
/// row restart the instance (like a liveness failure);</item>
/// <item>then readiness and liveness run side by side. Readiness makes the instance READY (in the gateway) or
/// RUNNING with the reason; without a readiness check the default is a TCP connect to <c>port</c> (see
/// <see cref="DefaultReadiness"/>), and without a port the instance is ready once it runs. failure_threshold
/// liveness failures in a row mark the instance not ready and restart it in place.</item>
/// </list>
/// HTTP and TCP checks go from the node to the instance's own address; exec checks run inside it (runc exec).
/// Everything stops when the run ends.
/// </summary>
public sealed class ProbeHook(IContainerExec exec, TimeProvider time, ILogger<ProbeHook> logger) : IPoststartHook
{
    /// <inheritdoc/>
    public string Name => "probes";

    /// <inheritdoc/>
    public Task PoststartAsync(InstanceContext context, CancellationToken runToken)
    {
        var startedAt = time.GetUtcNow();
        _ = RunAsync(context, startedAt, runToken);
        return Task.CompletedTask;
    }

    /// <summary>The check a probe message describes, against the instance's address (or inside it for exec); null when it cannot be built.</summary>
    public IProbeCheck? CheckFor(Probe probe, InstanceContext context)
    {
        var ip = IPAddress.TryParse(context.Record.Ip, out var parsed) ? parsed : null;
        switch (probe.CheckCase)
        {
            case Probe.CheckOneofCase.HttpGet when ip is not null:
                var http = probe.HttpGet;
                var scheme = string.Equals(http.Scheme, "HTTPS", StringComparison.OrdinalIgnoreCase) ? "https" : "http";
                var path = http.Path.StartsWith('/') ? http.Path : "/" + http.Path;
                var port = http.Port > 0 ? http.Port : context.Assignment.Spec?.Port ?? 0;
                return Uri.TryCreate($"{scheme}://{new IPEndPoint(ip, port)}{path}", UriKind.Absolute, out var url) ? new HttpProbeCheck(url, time) : null;
            case Probe.CheckOneofCase.TcpSocket when ip is not null:
                var tcpPort = probe.TcpSocket.Port > 0 ? probe.TcpSocket.Port : context.Assignment.Spec?.Port ?? 0;
                return new TcpProbeCheck(new IPEndPoint(ip, tcpPort), time);
            case Probe.CheckOneofCase.Exec when probe.Exec.Command.Count > 0:
                return new ExecProbeCheck(exec, context, [.. probe.Exec.Command]);
            default:
                return null;
        }
    }

    private async Task RunAsync(InstanceContext context, DateTimeOffset startedAt, CancellationToken runToken)
    {
        var spec = context.Assignment.Spec ?? new InstanceSpec();
        try
        {
            if (Worker("startup", spec.StartupCheck, context) is { } startup)
            {
                var verdict = await startup.UntilPassedAsync(startedAt, runToken);
                if (!verdict.Passed)
                {
                    Unhealthy(context, verdict.Reason, runToken);
                    return;
                }

                HealthLog.StartupPassed(logger, context.InstanceId);
            }

            using var checks = CancellationTokenSource.CreateLinkedTokenSource(runToken);
            var readiness = Worker("readiness", spec.ReadinessCheck, context) is { } worker
                ? worker.WatchAsync(startedAt, (ready, reason) => Readiness(context, ready, reason, checks.Token), checks.Token)
                : new DefaultReadiness(time).RunAsync(context, (ready, reason) => Readiness(context, ready, reason, checks.Token), checks.Token);
            var liveness = Task.CompletedTask;
            if (Worker("liveness", spec.LivenessCheck, context) is { } live)
            {
                liveness = WatchLivenessAsync(context, live, startedAt, checks, runToken);
            }

            await Task.WhenAll(readiness, liveness);
        }
        catch (OperationCanceledException)
        {
            // The run ended (exit, restart, stop, agent shutdown), or liveness failed and stopped the other checks.
        }
        catch (Exception ex)
        {
            // A bug here must not leave the instance half-probed in silence.
            HealthLog.ProbesCrashed(logger, context.InstanceId, ex);
        }
    }

    private async Task WatchLivenessAsync(InstanceContext context, ProbeWorker liveness, DateTimeOffset startedAt, CancellationTokenSource checks, CancellationToken runToken)
    {
        var verdict = await liveness.UntilFailedAsync(startedAt, runToken);

        // No more requests while it is killed; then the runner restarts it.
        Readiness(context, false, verdict.Reason + "; restarting", runToken);
        await checks.CancelAsync();
        Unhealthy(context, verdict.Reason, runToken);
    }

    private ProbeWorker? Worker(string name, Probe? probe, InstanceContext context)
    {
        if (probe is null)
        {
            return null;
        }

        if (CheckFor(probe, context) is not { } check)
        {
            HealthLog.ProbeUnusable(logger, context.InstanceId, name, probe.CheckCase.ToString(), context.Record.Ip);
            return null;
        }

        return new ProbeWorker(name, ProbeTiming.From(probe), check, time);
    }

    private static void Readiness(InstanceContext context, bool ready, string reason, CancellationToken token)
    {
        // A result that lands after its run ended must not touch the next run.
        if (!token.IsCancellationRequested)
        {
            context.ReadinessChanged(ready, reason);
        }
    }

    private void Unhealthy(InstanceContext context, string reason, CancellationToken runToken)
    {
        if (!runToken.IsCancellationRequested)
        {
            HealthLog.Unhealthy(logger, context.InstanceId, reason);
            context.Unhealthy(reason);
        }
    }
}

/// <summary>
/// The readiness check when none is configured (EAS's default): READY while a TCP connection to ip:port opens.
/// Polls every 100 ms until the first success (deploy latency), every second after 30 s without one, then
/// re-checks every 1.5 s once ready; one failed re-check reports not ready. No port: ready at once.
/// </summary>
public sealed class DefaultReadiness(TimeProvider time)
{
    /// <summary>The fast interval while waiting for the first success.</summary>
    public static readonly TimeSpan StartupInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>The interval while ready.</summary>
    public static readonly TimeSpan ReadyInterval = TimeSpan.FromMilliseconds(1500);

    /// <summary>After this long without success, polling slows to every second.</summary>
    public static readonly TimeSpan FastPhase = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan _connectTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Reports readiness through <paramref name="changed"/> until cancelled.</summary>
    public async Task RunAsync(InstanceContext context, Action<bool, string> changed, CancellationToken cancellationToken)
    {
        var port = context.Assignment.Spec?.Port ?? 0;
        if (port <= 0 || !IPAddress.TryParse(context.Record.Ip, out var ip))
        {
            // Nothing to probe: a worker without a port counts as ready once it runs.
            changed(true, "");
            return;
        }

        var check = new TcpProbeCheck(new IPEndPoint(ip, port), time);
        var started = time.GetUtcNow();
        var last = false;
        var toldSlow = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            var result = await check.CheckAsync(_connectTimeout, cancellationToken);
            if (result.Passed && !last)
            {
                changed(true, "");
            }
            else if (!result.Passed && last)
            {
                changed(false, $"readiness check failed: {result.Detail}");
            }
            else if (!result.Passed && !toldSlow && time.GetUtcNow() - started >= FastPhase)
            {
                // Waiting for the first connection is normal start-up; only a long wait is worth a reason.
                toldSlow = true;
                changed(false, $"not ready yet: no TCP connection for {ProbeText.Seconds(FastPhase)} ({result.Detail})");
            }

            toldSlow |= result.Passed;
            last = result.Passed;
            var interval = result.Passed ? ReadyInterval : time.GetUtcNow() - started < FastPhase ? StartupInterval : TimeSpan.FromSeconds(1);
            await Task.Delay(interval, time, cancellationToken);
        }
    }
}
