namespace Eas.Node.Gateway.Routing;

/// <summary>
/// State of a service that outlives one routing table: requests in flight against its concurrency limit and its
/// service-wide rate limiter. Carried by name from table to table, so a snapshot (a weight switch, a new instance)
/// neither forgets requests in flight nor refills the rate limiter.
/// </summary>
internal sealed class ServiceShared
{
    private int _inFlight;

    /// <summary>networking.gateway_policy.rate_limit for the whole service; null when off.</summary>
    public RateLimiter? RateLimiter { get; set; }

    /// <summary>Requests in flight counted against the concurrency limit (counted only while a limit is set).</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Counts one request in unless <paramref name="limit"/> are already in flight.</summary>
    public bool TryEnter(int limit)
    {
        while (true)
        {
            var current = Volatile.Read(ref _inFlight);
            if (current >= limit)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _inFlight, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    public void Exit() => Interlocked.Decrement(ref _inFlight);
}
