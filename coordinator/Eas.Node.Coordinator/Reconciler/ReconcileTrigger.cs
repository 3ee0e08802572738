using System.Threading.Channels;

namespace Eas.Node.Coordinator.Reconciler;

/// <summary>
/// Wakes the reconciler. Any number of signals before the next pass collapse into one, so writers
/// (the API, agent reports, the liveness monitor) never wait and never queue work.
/// </summary>
public sealed class ReconcileTrigger(TimeProvider time)
{
    private readonly Channel<bool> _channel = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });

    /// <summary>Asks for a reconcile pass soon.</summary>
    public void Signal() => _channel.Writer.TryWrite(true);

    /// <summary>Asks for a reconcile pass after <paramref name="delay"/> (a deadline the store alone cannot wake anyone for).</summary>
    public void SignalAfter(TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            Signal();
            return;
        }

        _ = Task.Delay(delay, time).ContinueWith(_ => Signal(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Waits until a pass is due.</summary>
    internal ValueTask<bool> WaitAsync(CancellationToken cancellationToken) => _channel.Reader.WaitToReadAsync(cancellationToken);

    /// <summary>Consumes the pending signal, so signals arriving during the pass cause another one.</summary>
    internal void Consume() => _channel.Reader.TryRead(out _);
}
