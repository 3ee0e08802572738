namespace Eas.Node.Agent.Instances;

/// <summary>
/// Doubling delays with a cap, reset once the guarded thing has run (or stayed connected) long enough.
/// Restarts: 1 s, 2 s, 4 s … 5 min, reset after 10 min of running. Reconnects: 0.25 s … 4 s, reset after 10 s connected.
/// </summary>
public sealed class ExponentialBackoff(TimeSpan initial, TimeSpan cap, TimeSpan resetAfter, TimeProvider time)
{
    private int _attempt;
    private DateTimeOffset _startedAt = time.GetUtcNow();

    /// <summary>The schedule for restarting a crashed instance.</summary>
    public static ExponentialBackoff ForRestarts(TimeProvider time)
        => new(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(10), time);

    /// <summary>The schedule for reconnecting to the coordinator.</summary>
    public static ExponentialBackoff ForReconnects(TimeProvider time)
        => new(TimeSpan.FromMilliseconds(250), ReconnectCap, TimeSpan.FromSeconds(10), time);

    /// <summary>
    /// The longest wait between reconnects: well inside the coordinator's node grace (10 s by default), so a
    /// coordinator restart, or several in a row, never makes a healthy node look Down and its instances move.
    /// </summary>
    public static TimeSpan ReconnectCap { get; } = TimeSpan.FromSeconds(4);

    /// <summary>Marks the start of a run (a container start, a connected session).</summary>
    public void Started() => _startedAt = time.GetUtcNow();

    /// <summary>The delay before the next attempt; a long enough run since <see cref="Started"/> resets the schedule.</summary>
    public TimeSpan NextDelay()
    {
        if (time.GetUtcNow() - _startedAt >= resetAfter)
        {
            _attempt = 0;
        }

        var delay = _attempt >= 30 ? cap : TimeSpan.FromTicks(Math.Min(cap.Ticks, initial.Ticks * (1L << _attempt)));
        _attempt++;
        return delay;
    }
}
