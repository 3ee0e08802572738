namespace Eas.Node.Gateway.Proxy;

/// <summary>
/// Per-request deadlines (the service's rpc.keepalive) as reusable <see cref="CancellationTokenSource"/>s: a source
/// that did not fire is reset and kept for the next request on the same thread, which saves its allocation and its
/// timer on the hot path.
/// </summary>
internal sealed class DeadlinePool(TimeProvider timeProvider)
{
    [ThreadStatic]
    private static CancellationTokenSource? _spare;

    // The spare belongs to one pool: its timer runs on that pool's TimeProvider.
    [ThreadStatic]
    private static DeadlinePool? _spareOwner;

    public CancellationTokenSource Rent(TimeSpan timeout)
    {
        var source = _spare;
        if (source is not null && ReferenceEquals(_spareOwner, this))
        {
            _spare = null;
        }
        else
        {
            source = new CancellationTokenSource(Timeout.InfiniteTimeSpan, timeProvider);
        }

        source.CancelAfter(timeout);
        return source;
    }

    public void Return(CancellationTokenSource source)
    {
        if (_spare is null && source.TryReset())
        {
            _spare = source;
            _spareOwner = this;
        }
        else
        {
            source.Dispose();
        }
    }
}
