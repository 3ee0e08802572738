using System.Threading.Channels;

namespace Eas.Node.Gateway.Records;

/// <summary>
/// A sink's bounded queue and its one background writer. <see cref="TryEnqueue"/> never waits: a full queue refuses
/// the record, and the caller counts it as dropped.
/// </summary>
internal abstract class RecordSink : IAsyncDisposable
{
    /// <summary>
    /// How long records gather in the queue before the writer takes them (see <see cref="WaitForRecordsAsync"/>): long
    /// enough that a busy sink's writer is woken a few hundred times a second rather than once per call, short enough
    /// that most queued records are gone before the next gen0 collection (a record still queued then is promoted, and a
    /// queue of 0.1 s turned most collections into gen1 ones).
    /// </summary>
    public static readonly TimeSpan GatherTime = TimeSpan.FromMilliseconds(5);

    private readonly Channel<CallRecord> _queue;
    private readonly CancellationTokenSource _abort = new();
    private Task _writer = Task.CompletedTask;
    private int _fullLogged;

    protected RecordSink(int capacity, RecordMetrics metrics, ILogger logger, string sinkName, string target)
    {
        Capacity = capacity;
        Metrics = metrics;
        Logger = logger;
        SinkName = sinkName;
        Target = target;
        _queue = Channel.CreateBounded<CallRecord>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        });
    }

    /// <summary>The sink label of the record counters: "file" or "otlp".</summary>
    public string SinkName { get; }

    /// <summary>What the sink writes to (a file path, an endpoint), for the log.</summary>
    public string Target { get; }

    protected int Capacity { get; }

    protected RecordMetrics Metrics { get; }

    protected ILogger Logger { get; }

    protected ChannelReader<CallRecord> Reader => _queue.Reader;

    /// <summary>Cancelled when the sink is stopping and its writer did not finish in time: give up waiting.</summary>
    protected CancellationToken Aborted => _abort.Token;

    /// <summary>Starts the background writer; call once, after construction.</summary>
    public void Start() => _writer = Task.Run(RunWriterAsync);

    /// <summary>Queues <paramref name="record"/>; false (and nothing queued) when the queue is full or closed.</summary>
    public bool TryEnqueue(CallRecord record)
    {
        if (_queue.Writer.TryWrite(record))
        {
            if (Volatile.Read(ref _fullLogged) != 0)
            {
                Volatile.Write(ref _fullLogged, 0);
            }

            return true;
        }

        if (Interlocked.Exchange(ref _fullLogged, 1) == 0)
        {
            RecordsLog.QueueFull(Logger, record.Service, Target, Capacity);
        }

        return false;
    }

    /// <summary>
    /// Stops taking records and lets the writer finish what is queued; past <paramref name="timeout"/> it gives up,
    /// and what is still queued is dropped (counted).
    /// </summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        _queue.Writer.TryComplete();
        try
        {
            await _writer.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            await _abort.CancelAsync();
            try
            {
                await _writer.WaitAsync(TimeSpan.FromSeconds(1));
            }
            catch (TimeoutException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(5));
        await CloseAsync();
        _abort.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Waits until a record is queued, then lets more gather for <see cref="GatherTime"/> (or until the queue is closed);
    /// false when the queue is closed and empty.
    /// </summary>
    /// <remarks>
    /// A writer that took each record as it came would be woken by each <see cref="TryEnqueue"/>: a thread switch for the
    /// request's thread to pay (in issue 7's benchmark, 30,000 a second, and call records cost a quarter of the gateway's
    /// throughput).
    /// </remarks>
    /// <param name="cancellationToken">Stops the first wait (an idle sink's timer, <see cref="Aborted"/>).</param>
    protected async ValueTask<bool> WaitForRecordsAsync(CancellationToken cancellationToken)
    {
        if (!await Reader.WaitToReadAsync(cancellationToken))
        {
            return false;
        }

        // Closing the queue (a stopping sink) ends the gathering early: what is queued is written at once.
        await Task.WhenAny(Task.Delay(GatherTime, Aborted), Reader.Completion);
        return true;
    }

    /// <summary>Writes records from <see cref="Reader"/> until it completes.</summary>
    protected abstract Task RunAsync();

    protected virtual ValueTask CloseAsync() => ValueTask.CompletedTask;

    /// <summary>Drops every queued record (counted) until the queue is closed.</summary>
    protected async Task DrainDroppingAsync()
    {
        while (await Reader.WaitToReadAsync())
        {
            while (Reader.TryRead(out var record))
            {
                Metrics.Dropped(record.Service, SinkName);
            }
        }
    }

    private async Task RunWriterAsync()
    {
        try
        {
            await RunAsync();
        }
        catch (OperationCanceledException) when (Aborted.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // A writer bug must not leave records queued forever: count them as dropped instead.
            RecordsLog.WriterFailed(Logger, Target, e);
        }

        await DrainDroppingAsync();
    }
}
