using Eas.Node.Agent.Interop;
using Eas.Node.Agent.Metrics;
using Eas.Node.Agent.Runtime;
using Eas.Node.Agent.State;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.Logging;

namespace Eas.Node.Agent.Instances;

/// <summary>How a runner begins.</summary>
public enum RunnerStart
{
    /// <summary>A new assignment: prepare and start.</summary>
    Fresh,

    /// <summary>A record found at agent start: re-attach if the container runs, else clean up and start again.</summary>
    Recover,

    /// <summary>A record found in Stopping: finish the stop.</summary>
    FinishStop,
}

/// <summary>
/// Drives one instance through the lifecycle in <c>Lifecycle.cs</c>: runs the hooks, starts the container,
/// restarts it with backoff when it exits, restarts it in place when asked, and stops it gracefully.
/// </summary>
public sealed class InstanceRunner : IDisposable
{
    private static readonly TimeSpan _killWait = TimeSpan.FromSeconds(10);

    private readonly InstanceContext _context;
    private readonly InstanceHooks _hooks;
    private readonly ConmonRuncDriver _driver;
    private readonly StatusHub _hub;
    private readonly StateStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly AgentMetrics? _metrics;
    private readonly ExponentialBackoff _backoff;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _detach = new();
    private readonly CancellationTokenSource _stopOrDetach;
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _firstStatus = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _restart = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private InstanceState _state = InstanceState.Pending;
    private string _reason = "";
    private string _publishedReason = "";
    private int _lastExitCode = -1;
    private string? _evictReason;
    private string? _unhealthyReason;
    private bool _runActive;
    private string? _attachedStatus;

    /// <summary>Creates a runner for a record (nothing runs until <see cref="Start"/>).</summary>
    public InstanceRunner(
        InstanceRecord record,
        AgentPaths paths,
        InstanceHooks hooks,
        ConmonRuncDriver driver,
        StatusHub hub,
        StateStore store,
        TimeProvider time,
        ILogger logger,
        AgentMetrics? metrics = null)
    {
        _context = new InstanceContext(record, paths);
        _hooks = hooks;
        _driver = driver;
        _hub = hub;
        _store = store;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        _backoff = ExponentialBackoff.ForRestarts(time);
        _stopOrDetach = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, _detach.Token);
        _context.ReadinessChanged = OnReadinessChanged;
        _context.Unhealthy = OnUnhealthy;
        _context.ReportProgress = progress => Publish(InstanceState.Preparing, progress);
    }

    /// <summary>The instance id.</summary>
    public string InstanceId => _context.InstanceId;

    /// <summary>The assignment it runs.</summary>
    public InstanceAssignment Assignment => _context.Assignment;

    /// <summary>The instance's context (for tests and log tails).</summary>
    public InstanceContext Context => _context;

    /// <summary>True once a stop was requested.</summary>
    public bool Stopping => _stop.IsCancellationRequested;

    /// <summary>Completes when the runner ends: stopped (instance gone) or detached (agent shutting down).</summary>
    public Task Completion { get; private set; } = Task.CompletedTask;

    /// <summary>Completes once the runner published its first status (after a recovery: re-attached or being prepared again).</summary>
    public Task FirstStatus => _firstStatus.Task;

    /// <summary>Starts driving the instance on the thread pool.</summary>
    public void Start(RunnerStart how) => Completion = Task.Run(() => RunAsync(how));

    /// <summary>Restarts the instance in place when <paramref name="nonce"/> is larger than the one it runs with.</summary>
    public void RequestRestart(long nonce)
    {
        lock (_gate)
        {
            if (nonce <= _context.Assignment.RestartNonce)
            {
                return;
            }

            _context.Assignment.RestartNonce = nonce;
            _restart.TrySetResult();
        }
    }

    /// <summary>
    /// Restarts the instance in place because the agent must (e.g. it used more GPU memory than its slice):
    /// the restart counts, and <paramref name="reason"/> is the reason the coordinator records and shows.
    /// </summary>
    public void Evict(string reason)
    {
        lock (_gate)
        {
            _evictReason = reason;
            _restart.TrySetResult();
        }
    }

    /// <summary>Stops the instance (graceful, then forced) and cleans up everything it had.</summary>
    public void RequestStop() => _stop.Cancel();

    /// <summary>Stops watching without touching the container (agent shutdown: instances keep running).</summary>
    public void Detach() => _detach.Cancel();

    /// <inheritdoc/>
    public void Dispose()
    {
        _stopOrDetach.Dispose();
        _stop.Dispose();
        _detach.Dispose();
    }

    private async Task RunAsync(RunnerStart how)
    {
        try
        {
            if (how != RunnerStart.FinishStop)
            {
                try
                {
                    await RunUntilStopAsync(how);
                }
                catch (OperationCanceledException) when (_stopOrDetach.IsCancellationRequested)
                {
                    // Stop or detach requested; handled below.
                }
            }

            if (!_detach.IsCancellationRequested)
            {
                await StopAsync();
            }
        }
        catch (OperationCanceledException) when (_detach.IsCancellationRequested)
        {
            // Agent shutdown: the container keeps running under conmon; the record says how to re-attach.
        }
        catch (Exception ex)
        {
            InstanceLog.RunnerCrashed(_logger, InstanceId, ex);
            Publish(InstanceState.Failed, "agent error: " + ex.Message);
        }
        finally
        {
            _firstStatus.TrySetResult();
        }
    }

    private async Task RunUntilStopAsync(RunnerStart how)
    {
        var token = _stopOrDetach.Token;
        var attached = false;
        while (!token.IsCancellationRequested)
        {
            try
            {
                if (how == RunnerStart.Recover)
                {
                    attached = await TryAttachAsync(token);
                    how = RunnerStart.Fresh;
                }

                if (!attached)
                {
                    await PrepareAsync(token);
                }

                await RunContainerAsync(attached, token);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                var reason = ex is InstanceFailedException ? ex.Message : "agent error: " + ex.Message;
                InstanceLog.Failed(_logger, InstanceId, reason);
                Publish(InstanceState.Failed, reason);
            }

            // FAILED stays until the assignment is removed, or a restart is asked for: then clean up and try again.
            Task restart;
            lock (_gate)
            {
                restart = _restart.Task;
            }

            await restart.WaitAsync(token);
            lock (_gate)
            {
                _restart = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            await RunStopHooksAsync();
            attached = false;
        }
    }

    private async Task<bool> TryAttachAsync(CancellationToken token)
    {
        var record = _context.Record;
        var status = record.Phase == RecordPhase.Running ? await _driver.StatusAsync(_context.ContainerId, token) : null;
        if (status is "running" or "stopped" && ConmonRuncDriver.LoadProcess(_context) is { } process)
        {
            _context.Process = process;
            InstanceLog.Reattached(_logger, InstanceId);
            _attachedStatus = status;
            if (status == "running")
            {
                Publish(InstanceState.Running, "");
            }

            return true;
        }

        InstanceLog.CleaningHalfMade(_logger, InstanceId, record.Phase + (status is null ? "" : ", container " + status));
        await RunStopHooksAsync();
        return false;
    }

    private async Task PrepareAsync(CancellationToken token)
    {
        _context.Record.Phase = RecordPhase.Preparing;
        _store.Save(_context.Record);
        Publish(InstanceState.Preparing, "");
        foreach (var hook in _hooks.Prestart)
        {
            await hook.PrestartAsync(_context, token);
        }

        _store.Save(_context.Record);
    }

    private async Task RunContainerAsync(bool attached, CancellationToken token)
    {
        while (true)
        {
            // A container found exited at re-attach goes straight to its exit handling: no RUNNING, no probes.
            var exited = attached && _attachedStatus == "stopped";
            _attachedStatus = null;
            if (!attached)
            {
                _context.Record.Phase = RecordPhase.Running;
                _store.Save(_context.Record);
                Publish(InstanceState.Starting, _reason);
                _context.Process = await _driver.StartAsync(_context, token);
            }

            attached = false;
            _backoff.Started();
            Task restart;
            lock (_gate)
            {
                // A restart asked for while this run was being started is satisfied by it.
                if (_restart.Task.IsCompleted)
                {
                    _restart = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    _evictReason = null;
                    _unhealthyReason = null;
                }

                restart = _restart.Task;
            }

            using var run = CancellationTokenSource.CreateLinkedTokenSource(token);
            if (!exited)
            {
                Publish(InstanceState.Running, _reason);
                SetRunActive(true);
                foreach (var hook in _hooks.Poststart)
                {
                    await hook.PoststartAsync(_context, run.Token);
                }
            }

            var exitTask = _driver.WaitForExitAsync(_context, run.Token);
            var finished = await Task.WhenAny(exitTask, restart, Task.Delay(Timeout.InfiniteTimeSpan, _time, token));
            SetRunActive(false);
            if (finished != exitTask && finished != restart)
            {
                await run.CancelAsync();
                token.ThrowIfCancellationRequested();
            }

            ExitStatus exit;
            TimeSpan delay;
            string restartKind;
            if (finished == restart)
            {
                (exit, delay, restartKind) = await RestartRequestedAsync(exitTask, token);
            }
            else
            {
                exit = await exitTask;
                if (_context.Assignment.Spec?.CrashBlock == true)
                {
                    await run.CancelAsync();
                    restartKind = await HoldCrashedAsync(exit, restart, token);
                    delay = TimeSpan.Zero;
                }
                else
                {
                    delay = _backoff.NextDelay();
                    _reason = exit.Describe();
                    restartKind = exit.OomKilled ? RestartKinds.Oom : RestartKinds.Exit;
                    InstanceLog.Exited(_logger, InstanceId, _reason, delay);
                }
            }

            await run.CancelAsync();
            _lastExitCode = exit.Code;
            Publish(InstanceState.Starting, _reason);
            foreach (var hook in _hooks.Exited)
            {
                await hook.ExitedAsync(_context, exit, token);
            }

            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, _time, token);
            }

            _context.Record.Restarts++;
            _store.Save(_context.Record);
            _metrics?.CountRestart(_context.Assignment.Service, restartKind);
        }
    }

    // A restart of a running container: on request (no delay), for an eviction (no grace), or for a failed health
    // check (the crash backoff; grace only when the process gets SIGTERM, since waiting on a silent one helps nobody).
    private async Task<(ExitStatus Exit, TimeSpan Delay, string Kind)> RestartRequestedAsync(Task<ExitStatus> exitTask, CancellationToken token)
    {
        string? evicted;
        string? unhealthy;
        lock (_gate)
        {
            evicted = _evictReason;
            unhealthy = _unhealthyReason;
            _evictReason = null;
            _unhealthyReason = null;
        }

        ExitStatus exit;
        TimeSpan delay;
        if (evicted is not null)
        {
            // An eviction does not wait out the grace period: the instance is taking what others need.
            exit = await KillAsync(exitTask, token, TimeSpan.Zero);
            _reason = evicted;
            delay = TimeSpan.Zero;
        }
        else if (unhealthy is not null)
        {
            exit = await KillAsync(exitTask, token, _context.Assignment.Spec?.EnableSigterm == true ? null : TimeSpan.Zero);
            _reason = unhealthy + "; restarted";
            delay = _backoff.NextDelay();
            InstanceLog.Exited(_logger, InstanceId, unhealthy, delay);
            return (exit, delay, RestartKinds.Liveness);
        }
        else
        {
            exit = await KillAsync(exitTask, token);
            _reason = "restarted on request";
            delay = TimeSpan.Zero;
        }

        InstanceLog.Exited(_logger, InstanceId, _reason, delay);
        return (exit, delay, evicted is not null ? RestartKinds.Evicted : RestartKinds.Requested);
    }

    // runtime.enable_crash_block: the exited container stays (not deleted, so its state, network and mounts can be
    // looked at) and the instance FAILED, until a restart is asked for; a stop cancels the wait and cleans up as usual.
    private async Task<string> HoldCrashedAsync(ExitStatus exit, Task restart, CancellationToken token)
    {
        _lastExitCode = exit.Code;
        var service = _context.Assignment.Service;
        var reason = $"{exit.Describe()}; kept for inspection (runtime.enable_crash_block is true): read `easctl logs {service} --instance {InstanceId}`, " +
            $"then `easctl restart {service} --instance {InstanceId}` to run it again";
        InstanceLog.Failed(_logger, InstanceId, reason);
        Publish(InstanceState.Failed, reason);
        await restart.WaitAsync(token);

        string? evicted;
        lock (_gate)
        {
            evicted = _evictReason;
            _evictReason = null;
            _unhealthyReason = null;
        }

        _reason = evicted ?? "restarted on request";
        InstanceLog.Exited(_logger, InstanceId, _reason, TimeSpan.Zero);
        return evicted is not null ? RestartKinds.Evicted : RestartKinds.Requested;
    }

    // Graceful kill: prekill hooks (SIGTERM when enabled), the grace period (ending early on exit), then SIGKILL.
    private async Task<ExitStatus> KillAsync(Task<ExitStatus> exitTask, CancellationToken token, TimeSpan? graceOverride = null)
    {
        foreach (var hook in _hooks.Prekill)
        {
            await hook.PrekillAsync(_context, token);
        }

        var grace = graceOverride ?? TimeSpan.FromSeconds(Math.Max(0, _context.Assignment.Spec?.TerminationGraceSeconds ?? 0));
        if (await Task.WhenAny(exitTask, Task.Delay(grace, _time, token)) == exitTask)
        {
            return await exitTask;
        }

        token.ThrowIfCancellationRequested();
        _driver.Signal(_context, Signals.Kill);
        if (await Task.WhenAny(exitTask, Task.Delay(_killWait, _time, token)) == exitTask)
        {
            return await exitTask;
        }

        return new ExitStatus(-1);
    }

    private async Task StopAsync()
    {
        var token = _detach.Token;
        _context.Record.Phase = RecordPhase.Stopping;
        _store.Save(_context.Record);
        Publish(InstanceState.Terminating, "");

        _context.Process ??= ConmonRuncDriver.LoadProcess(_context);
        if (_context.Process is { } process && Signals.IsAlive(process.Pid))
        {
            using var watch = CancellationTokenSource.CreateLinkedTokenSource(token);
            var exit = await KillAsync(_driver.WaitForExitAsync(_context, watch.Token), token);
            await watch.CancelAsync();
            _lastExitCode = exit.Code;
        }

        await RunStopHooksAsync();
        _store.Delete(InstanceId);
        Publish(InstanceState.Stopped, "");
    }

    private async Task RunStopHooksAsync()
    {
        // Each step runs even when an earlier one failed: leaving a netns because runc hiccupped helps nobody.
        foreach (var hook in _hooks.Stop)
        {
            try
            {
                await hook.StopAsync(_context, CancellationToken.None);
            }
            catch (Exception ex)
            {
                InstanceLog.StopHookFailed(_logger, InstanceId, hook.Name, ex.Message);
            }
        }
    }

    private void SetRunActive(bool active)
    {
        lock (_gate)
        {
            _runActive = active;
        }
    }

    // Readiness only moves a running container between RUNNING and READY; a late result from an ended run is dropped.
    private void OnReadinessChanged(bool ready, string reason) =>
        Publish(ready ? InstanceState.Ready : InstanceState.Running, ready ? "" : reason, state => _runActive && state is InstanceState.Running or InstanceState.Ready);

    private void OnUnhealthy(string reason)
    {
        lock (_gate)
        {
            if (!_runActive || _unhealthyReason is not null)
            {
                return;
            }

            _unhealthyReason = reason;
            _restart.TrySetResult();
        }
    }

    /// <summary>Publishes a state; <paramref name="onlyFrom"/>, when given, must accept the current state (checked under the lock).</summary>
    private void Publish(InstanceState state, string reason, Func<InstanceState, bool>? onlyFrom = null)
    {
        var assignment = _context.Assignment;
        InstanceStatus status;
        lock (_gate)
        {
            if (state == _state && reason == _publishedReason && state is not InstanceState.Starting)
            {
                return;
            }

            if (onlyFrom is not null && !onlyFrom(_state))
            {
                return;
            }

            _state = state;
            _publishedReason = reason;
            status = new InstanceStatus
            {
                InstanceId = assignment.InstanceId,
                Service = assignment.Service,
                ServiceVersion = assignment.ServiceVersion,
                State = state,
                Reason = reason,
                Ip = _context.Record.Ip,
                Port = assignment.Spec?.Port ?? 0,
                Restarts = _context.Record.Restarts,
                LastExitCode = _lastExitCode,
                RestartNonce = assignment.RestartNonce,
            };

            // Under the lock, so the hub sees one instance's states in the order they were decided.
            _hub.Publish(status);
        }

        InstanceLog.StateChanged(_logger, InstanceId, assignment.Service, state.ToString(), reason.Length > 0 ? ": " + reason : "");
        _firstStatus.TrySetResult();
    }
}
