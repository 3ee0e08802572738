namespace Eas.Node.LlmSim;

/// <summary>
/// Runs an <see cref="EngineCore"/> in wall time: one loop per replica plans a step, sleeps (a timer, no spinning)
/// until the step's modelled end, applies it, and repeats; it parks on a signal when there is nothing to do.
/// Steps are laid end to end on a deadline chain, so timer lateness up to <see cref="MaxCatchUpSeconds"/> is made up
/// by the next step instead of accumulating; lateness beyond that (a starved CPU) is counted in the stats.
/// </summary>
public sealed class EngineRunner : IAsyncDisposable
{
    /// <summary>How much of a late wake-up the next step absorbs.</summary>
    public const double MaxCatchUpSeconds = 0.005;

    private readonly EngineCore _core;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly long _origin;
    private TaskCompletionSource? _wake;
    private Task? _loop;
    private double _slowdown = 1;

    public EngineRunner(EngineCore core, TimeProvider? time = null)
    {
        _core = core;
        _time = time ?? TimeProvider.System;
        _origin = _time.GetTimestamp();
    }

    /// <summary>Engine time: seconds since the runner was created.</summary>
    public double Now => _time.GetElapsedTime(_origin).TotalSeconds;

    /// <summary>Multiplies every step's duration (fault injection: a slow replica). 1 = as modelled.</summary>
    public double Slowdown
    {
        get
        {
            lock (_gate)
            {
                return _slowdown;
            }
        }

        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, 0);
            lock (_gate)
            {
                _slowdown = value;
            }
        }
    }

    /// <summary>Thrown out of the loop, if it ever failed (null while healthy).</summary>
    public Exception? Fault { get; private set; }

    public void Start() => _loop ??= Task.Run(() => LoopAsync(_stop.Token));

    /// <summary>Queues a request; null when <paramref name="maxWaiting"/> &gt; 0 requests already wait.</summary>
    public Sequence? TrySubmit(List<ulong> prompt, int maxTokens, int maxWaiting = 0)
    {
        lock (_gate)
        {
            if (maxWaiting > 0 && _core.WaitingCount >= maxWaiting)
            {
                _core.Stats.Rejected++;
                return null;
            }

            var seq = _core.Submit(prompt, maxTokens, Now);
            _wake?.TrySetResult();
            _wake = null;
            return seq;
        }
    }

    public void Abort(Sequence seq)
    {
        lock (_gate)
        {
            _core.Abort(seq);
        }
    }

    /// <summary>Reads engine state under the engine lock.</summary>
    public T Read<T>(Func<EngineCore, T> read)
    {
        lock (_gate)
        {
            return read(_core);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            try
            {
                await _loop;
            }
            catch (OperationCanceledException)
            {
            }
        }

        _stop.Dispose();
    }

    private async Task LoopAsync(CancellationToken ct)
    {
        var prevEnd = double.NegativeInfinity;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                StepPlan? plan;
                Task? idle = null;
                double end = 0;
                lock (_gate)
                {
                    // After an idle spell a step starts now; otherwise it follows the previous one, absorbing a late wake-up.
                    var now = Now;
                    var start = double.IsNegativeInfinity(prevEnd) ? now : Math.Max(prevEnd, now - MaxCatchUpSeconds);
                    plan = _core.Plan(start);
                    if (plan is null)
                    {
                        _wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                        idle = _wake.Task;
                        prevEnd = double.NegativeInfinity;
                    }
                    else
                    {
                        end = start + plan.Duration * _slowdown;
                    }
                }

                if (idle is not null)
                {
                    await idle.WaitAsync(ct);
                    continue;
                }

                // Timers count whole milliseconds and would truncate: round up, so a step never ends early.
                var delayMs = Math.Ceiling(Math.Round((end - Now) * 1000, 6));
                if (delayMs > 0)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(delayMs), _time, ct);
                }

                lock (_gate)
                {
                    _core.Apply(plan!, end);
                    _core.Stats.StepLateSeconds += Math.Max(0, Now - end - MaxCatchUpSeconds);
                }

                prevEnd = end;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Fault = ex;
            await Console.Error.WriteLineAsync($"llm-sim: engine loop failed: {ex}");
            throw;
        }
    }
}
