using System.Globalization;
using System.Runtime.CompilerServices;
using Eas.Node.Contracts.V1;

namespace Eas.Node.Agent.Health;

/// <summary>When a probe checks and how many results in a row count (Kubernetes' fields and defaults 0/10/1/3/1).</summary>
/// <param name="InitialDelay">After the container starts, before the first check.</param>
/// <param name="Period">From the start of one check to the start of the next (the next starts at once when a check took longer).</param>
/// <param name="Timeout">A check that takes longer fails.</param>
/// <param name="FailureThreshold">Failures in a row before the probe fails.</param>
/// <param name="SuccessThreshold">Successes in a row before a failed (or not yet passed) readiness probe passes.</param>
public sealed record ProbeTiming(TimeSpan InitialDelay, TimeSpan Period, TimeSpan Timeout, int FailureThreshold, int SuccessThreshold)
{
    /// <summary>The timing of a probe message; a field left 0 (an older coordinator) takes its default.</summary>
    public static ProbeTiming From(Probe probe) => new(
        TimeSpan.FromSeconds(Math.Max(0, probe.InitialDelaySeconds)),
        TimeSpan.FromSeconds(probe.PeriodSeconds > 0 ? probe.PeriodSeconds : 10),
        TimeSpan.FromSeconds(probe.TimeoutSeconds > 0 ? probe.TimeoutSeconds : 1),
        probe.FailureThreshold > 0 ? probe.FailureThreshold : 3,
        probe.SuccessThreshold > 0 ? probe.SuccessThreshold : 1);
}

/// <summary>A probe's verdict: passed, or failed with the check that failed last.</summary>
/// <param name="Passed">True when the probe passed.</param>
/// <param name="Reason">For a failed probe: <c>liveness check failed 3 times: GET … returned 503</c>; empty when passed.</param>
public readonly record struct ProbeVerdict(bool Passed, string Reason);

/// <summary>
/// Runs one configured probe of one container run with Kubernetes' semantics: the first check
/// <see cref="ProbeTiming.InitialDelay"/> after the container started, then one every period, never two at once;
/// results counted in a row against the thresholds. Startup waits for the first pass, liveness for the failure,
/// readiness reports every change. Every loop ends when its token is cancelled (the run ended).
/// </summary>
/// <param name="name">"startup", "readiness" or "liveness": the first word of the reasons.</param>
/// <param name="timing">When to check and how many results count.</param>
/// <param name="check">The check to run.</param>
/// <param name="time">The clock.</param>
public sealed class ProbeWorker(string name, ProbeTiming timing, IProbeCheck check, TimeProvider time)
{
    /// <summary>"startup", "readiness" or "liveness".</summary>
    public string Name => name;

    /// <summary>Startup: passes at the first passed check; fails after failure_threshold failures in a row.</summary>
    public async Task<ProbeVerdict> UntilPassedAsync(DateTimeOffset startedAt, CancellationToken cancellationToken)
    {
        var failures = 0;
        await foreach (var result in ChecksAsync(startedAt, cancellationToken))
        {
            if (result.Passed)
            {
                return new ProbeVerdict(true, "");
            }

            if (++failures >= timing.FailureThreshold)
            {
                return new ProbeVerdict(false, Reason(failures, result));
            }
        }

        // ChecksAsync only ends by cancellation.
        throw new OperationCanceledException(cancellationToken);
    }

    /// <summary>Liveness: completes with the reason once failure_threshold checks in a row failed; a pass starts the count again.</summary>
    public async Task<ProbeVerdict> UntilFailedAsync(DateTimeOffset startedAt, CancellationToken cancellationToken)
    {
        var failures = 0;
        await foreach (var result in ChecksAsync(startedAt, cancellationToken))
        {
            failures = result.Passed ? 0 : failures + 1;
            if (failures >= timing.FailureThreshold)
            {
                return new ProbeVerdict(false, Reason(failures, result));
            }
        }

        throw new OperationCanceledException(cancellationToken);
    }

    /// <summary>
    /// Readiness: not ready at first; <paramref name="changed"/>(true, "") after success_threshold passes in a row,
    /// (false, reason) after failure_threshold failures in a row, and again whenever the failure's detail changes.
    /// Runs until cancelled.
    /// </summary>
    public async Task WatchAsync(DateTimeOffset startedAt, Action<bool, string> changed, CancellationToken cancellationToken)
    {
        var ready = false;
        var successes = 0;
        var failures = 0;
        string? reported = null;
        await foreach (var result in ChecksAsync(startedAt, cancellationToken))
        {
            if (result.Passed)
            {
                failures = 0;
                successes++;
                if (!ready && successes >= timing.SuccessThreshold)
                {
                    ready = true;
                    reported = null;
                    changed(true, "");
                }

                continue;
            }

            successes = 0;
            failures++;
            if (failures >= timing.FailureThreshold)
            {
                var reason = Reason(timing.FailureThreshold, result);
                if (ready || reason != reported)
                {
                    ready = false;
                    reported = reason;
                    changed(false, reason);
                }
            }
        }
    }

    private string Reason(int failures, ProbeResult last) =>
        $"{name} check failed {failures.ToString(CultureInfo.InvariantCulture)} time{(failures == 1 ? "" : "s")} in a row: {last.Detail}";

    private async IAsyncEnumerable<ProbeResult> ChecksAsync(DateTimeOffset startedAt, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var first = startedAt + timing.InitialDelay - time.GetUtcNow();
        if (first > TimeSpan.Zero)
        {
            await Task.Delay(first, time, cancellationToken);
        }

        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var begun = time.GetUtcNow();
            yield return await check.CheckAsync(timing.Timeout, cancellationToken);
            var next = begun + timing.Period - time.GetUtcNow();
            if (next > TimeSpan.Zero)
            {
                await Task.Delay(next, time, cancellationToken);
            }
        }
    }
}
