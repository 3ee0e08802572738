using System.Collections.Concurrent;

namespace Eas.Node.Gateway.Proxy;

/// <summary>
/// Per-request deadlines (the service's rpc.keepalive) as reusable <see cref="RequestDeadline"/>s: a source that did
/// not fire is reset and kept for a later request, which saves its allocation, its timer and its registrations on the
/// hot path. Shared by all threads: with inline socket completions a request often ends on another thread than the
/// one it started on, so a per-thread spare missed about half the time.
/// </summary>
internal sealed class DeadlinePool(TimeProvider timeProvider)
{
    // More than the requests a gateway usually has in flight; beyond it, sources are simply disposed.
    private const int Capacity = 1024;

    private readonly ConcurrentQueue<RequestDeadline> _spares = new();
    private int _count;

    public RequestDeadline Rent(TimeSpan timeout)
    {
        if (_spares.TryDequeue(out var source))
        {
            Interlocked.Decrement(ref _count);
        }
        else
        {
            source = new RequestDeadline(timeProvider);
        }

        source.CancelAfter(timeout);
        return source;
    }

    public void Return(RequestDeadline source)
    {
        if (source.TryReset())
        {
            if (Interlocked.Increment(ref _count) <= Capacity)
            {
                _spares.Enqueue(source);
                return;
            }

            Interlocked.Decrement(ref _count);
        }

        source.Dispose();
    }
}

/// <summary>
/// The deadline of one forwarded request: rpc.keepalive until the response headers arrive. Then it is disarmed, and
/// YARP's activity timeout (also rpc.keepalive) bounds each idle gap of the response body instead, so a stream that
/// keeps moving may outlive the keepalive. Set as a request feature so the transformer can find it.
/// </summary>
internal sealed class RequestDeadline(TimeProvider timeProvider) : CancellationTokenSource(Timeout.InfiniteTimeSpan, timeProvider)
{
    /// <summary>The first byte came back in time: stop the timer (a no-op once it fired).</summary>
    public void Disarm() => CancelAfter(Timeout.InfiniteTimeSpan);
}
