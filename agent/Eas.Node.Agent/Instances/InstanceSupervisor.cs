using Eas.Node.Agent.Metrics;
using Eas.Node.Agent.Runtime;
using Eas.Node.Agent.State;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.Logging;

namespace Eas.Node.Agent.Instances;

/// <summary>
/// Owns the instance runners: re-attaches what the state directory records at start, converges to each
/// desired set (level-triggered: start new, stop absent, restart on a larger nonce), and ignores a desired
/// set older than one already applied.
/// </summary>
public sealed class InstanceSupervisor(
    StateStore store,
    InstanceHooks hooks,
    ConmonRuncDriver driver,
    StatusHub hub,
    TimeProvider time,
    ILoggerFactory loggers,
    AgentMetrics metrics) : IDisposable
{
    private readonly ILogger _logger = loggers.CreateLogger<InstanceSupervisor>();
    private readonly ILogger _runnerLogger = loggers.CreateLogger<InstanceRunner>();
    private readonly Lock _gate = new();
    private readonly Dictionary<string, InstanceRunner> _runners = new(StringComparer.Ordinal);
    private Dictionary<string, InstanceAssignment> _desired = new(StringComparer.Ordinal);
    private (long Epoch, long Generation) _applied;
    private readonly HashSet<string> _leftoverRetried = new(StringComparer.Ordinal);
    private bool _recovered;

    /// <summary>The highest (epoch, generation) applied.</summary>
    public (long Epoch, long Generation) Applied
    {
        get
        {
            lock (_gate)
            {
                return _applied;
            }
        }
    }

    /// <summary>The statuses the coordinator hears about.</summary>
    public StatusHub Statuses => hub;

    /// <summary>The number of instances with a runner.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _runners.Count;
            }
        }
    }

    /// <summary>
    /// Loads the state directory: re-attaches running instances, repairs half-made ones, finishes interrupted
    /// stops. Runs once; completes when every recovered instance has a status to report in Register.
    /// </summary>
    public async Task RecoverAsync(CancellationToken cancellationToken)
    {
        Recover();
        List<Task> first;
        lock (_gate)
        {
            first = _runners.Values.Select(r => r.FirstStatus).ToList();
        }

        // runc state answers in milliseconds; the bound keeps a wedged runc from holding back registration.
        await Task.WhenAll(first).WaitAsync(TimeSpan.FromSeconds(15), time, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    /// <summary>Starts recovering (see <see cref="RecoverAsync"/>) without waiting for the first statuses.</summary>
    public void Recover()
    {
        lock (_gate)
        {
            if (_recovered)
            {
                return;
            }

            _recovered = true;
            store.EnsureLayout();
            _applied = store.LoadApplied();
            foreach (var record in store.LoadAll())
            {
                if (record.Phase != RecordPhase.Stopping)
                {
                    _desired[record.InstanceId] = record.Assignment;
                }

                StartRunner(record, record.Phase == RecordPhase.Stopping ? RunnerStart.FinishStop : RunnerStart.Recover);
            }
        }
    }

    /// <summary>Converges to <paramref name="desired"/>; false (and nothing done) when its (epoch, generation) is older than the applied one.</summary>
    public bool Apply(DesiredInstances desired)
    {
        lock (_gate)
        {
            if ((desired.Epoch, desired.Generation).CompareTo(_applied) < 0)
            {
                InstanceLog.StaleDesired(_logger, desired.Epoch, desired.Generation, _applied.Epoch, _applied.Generation);
                return false;
            }

            InstanceLog.ApplyingDesired(_logger, desired.Epoch, desired.Generation, desired.Instances.Count);
            _applied = (desired.Epoch, desired.Generation);
            store.SaveApplied(desired.Epoch, desired.Generation);
            _desired = desired.Instances.GroupBy(i => i.InstanceId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);

            foreach (var (id, runner) in _runners.ToList())
            {
                if (!_desired.ContainsKey(id))
                {
                    runner.RequestStop();
                }
            }

            foreach (var assignment in _desired.Values)
            {
                if (_runners.TryGetValue(assignment.InstanceId, out var runner))
                {
                    // A runner still stopping is replaced when it finishes (see OnRunnerCompleted).
                    if (!runner.Stopping)
                    {
                        runner.RequestRestart(assignment.RestartNonce);
                    }

                    continue;
                }

                StartRunner(new InstanceRecord { Assignment = assignment.Clone(), Phase = RecordPhase.Preparing }, RunnerStart.Fresh);
            }

            // What no runner owns (a runner that failed while stopping, a record written back as it was being removed) is
            // cleaned up now rather than left on the host: a stopping runner for what is no longer wanted.
            foreach (var record in store.Leftovers(_runners.ContainsKey))
            {
                InstanceLog.FinishingLeftover(_logger, record.InstanceId);
                StartRunner(record, RunnerStart.FinishStop);
            }

            return true;
        }
    }

    /// <summary>The last output lines of an instance on this node.</summary>
    /// <exception cref="KeyNotFoundException">The instance is not on this node.</exception>
    public Task<IReadOnlyList<string>> TailAsync(string instanceId, int lines, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_runners.TryGetValue(instanceId, out var runner))
            {
                throw new KeyNotFoundException($"instance {instanceId} is not on this node");
            }

            return driver.TailOutputAsync(runner.Context, lines, cancellationToken);
        }
    }

    /// <summary>The runners of every instance on this node, at this moment.</summary>
    public IReadOnlyList<InstanceRunner> Runners()
    {
        lock (_gate)
        {
            return [.. _runners.Values];
        }
    }

    /// <summary>The runner of an instance, for tests.</summary>
    internal InstanceRunner? Find(string instanceId)
    {
        lock (_gate)
        {
            return _runners.GetValueOrDefault(instanceId);
        }
    }

    /// <summary>Stops watching every instance and leaves them running (agent shutdown).</summary>
    public async Task DetachAllAsync()
    {
        List<InstanceRunner> runners;
        lock (_gate)
        {
            runners = _runners.Values.ToList();
        }

        foreach (var runner in runners)
        {
            runner.Detach();
        }

        await Task.WhenAll(runners.Select(r => r.Completion));
    }

    /// <summary>Stops every instance and waits until all are cleaned up (the cleanup subcommand and tests).</summary>
    public async Task StopAllAsync()
    {
        List<InstanceRunner> runners;
        lock (_gate)
        {
            _desired.Clear();
            runners = _runners.Values.ToList();
        }

        foreach (var runner in runners)
        {
            runner.RequestStop();
        }

        await Task.WhenAll(runners.Select(r => r.Completion));
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var runner in _runners.Values)
            {
                runner.Detach();
            }
        }
    }

    private void StartRunner(InstanceRecord record, RunnerStart how)
    {
        var runner = new InstanceRunner(record, store.Paths, hooks, driver, hub, store, time, _runnerLogger, metrics);
        _runners[record.InstanceId] = runner;
        runner.Start(how);
        runner.Completion.ContinueWith(_ => OnRunnerCompleted(runner), CancellationToken.None, TaskContinuationOptions.RunContinuationsAsynchronously, TaskScheduler.Default);
    }

    private void OnRunnerCompleted(InstanceRunner runner)
    {
        lock (_gate)
        {
            if (_runners.TryGetValue(runner.InstanceId, out var current) && current == runner)
            {
                _runners.Remove(runner.InstanceId);
                if (runner.Stopping && _desired.TryGetValue(runner.InstanceId, out var assignment))
                {
                    // Removed and added back while it was stopping: run it again.
                    StartRunner(new InstanceRecord { Assignment = assignment.Clone(), Phase = RecordPhase.Preparing }, RunnerStart.Fresh);
                }
                else if (runner.Stopping && store.TryLoad(runner.InstanceId) is { } leftover && _leftoverRetried.Add(runner.InstanceId))
                {
                    // A stop that ended with the record still there (a step failed, or the record was written back while it
                    // was being removed): one more stopping runner, so nothing of it stays on the host. Once only; the next
                    // desired set sweeps again (Apply).
                    InstanceLog.FinishingLeftover(_logger, runner.InstanceId);
                    StartRunner(leftover, RunnerStart.FinishStop);
                }
            }
        }

        runner.Dispose();
    }
}
