using System.Diagnostics;

namespace Eas.Node.Gateway.Routing;

/// <summary>
/// A lock-free token bucket in its GCRA form (generic cell rate algorithm): one timestamp, the theoretical arrival
/// time of the next request, moved forward by one interval per admitted request with a compare-and-swap. It admits
/// <see cref="Limit"/> requests per second on average and up to <see cref="Burst"/> at once after a quiet spell;
/// while callers offer more, every request up to half an interval early is still admitted, so the rate holds under jitter.
/// </summary>
internal sealed class RateLimiter
{
    private readonly long _interval;
    private readonly long _tolerance;
    private long _theoreticalArrival;

    /// <summary>
    /// A limiter for <paramref name="limit"/> requests per second with a burst of a quarter second's worth (rounded up):
    /// callers whose requests arrive in clumps (a client's timer, GC or scheduling stall) still get the limit per second.
    /// </summary>
    public RateLimiter(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        Limit = limit;
        Burst = Math.Max(1, (limit + 3) / 4);
        _interval = Math.Max(1, Stopwatch.Frequency / limit);
        // Half an interval more than the burst needs: a request that arrives a hair early (timer and network jitter)
        // is not turned away, which with a burst of 1 would lose a whole interval and let through well under the limit.
        // The burst stays the same: the next request would still be a whole interval early.
        _tolerance = (_interval * (Burst - 1)) + (_interval / 2);
        _theoreticalArrival = Stopwatch.GetTimestamp();
    }

    /// <summary>Requests per second.</summary>
    public int Limit { get; }

    /// <summary>Requests admitted back to back after a quiet spell.</summary>
    public int Burst { get; }

    /// <summary>Admits one request now, or says no; never waits.</summary>
    public bool TryAcquire() => TryAcquire(Stopwatch.GetTimestamp());

    /// <summary>Admits one request at <paramref name="now"/> (a <see cref="Stopwatch"/> timestamp), or says no.</summary>
    public bool TryAcquire(long now)
    {
        while (true)
        {
            var arrival = Volatile.Read(ref _theoreticalArrival);
            var start = arrival > now ? arrival : now;
            if (start - now > _tolerance)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _theoreticalArrival, start + _interval, arrival) == arrival)
            {
                return true;
            }
        }
    }

    /// <summary>The limiter to use for <paramref name="limit"/> (0 = none), keeping <paramref name="previous"/> and its state when the limit is unchanged.</summary>
    public static RateLimiter? For(int limit, RateLimiter? previous) =>
        limit <= 0 ? null : previous is not null && previous.Limit == limit ? previous : new RateLimiter(limit);
}
