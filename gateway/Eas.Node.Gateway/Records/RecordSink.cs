using System.Threading.Channels;

namespace Eas.Node.Gateway.Records;

/// <summary>
/// A sink's bounded queue and its one writer, a thread of its own. <see cref="TryEnqueue"/> never waits: a full queue
/// refuses the record, and the caller counts it as dropped.
/// </summary>
/// <remarks>
/// The writer is a dedicated thread rather than a task on the thread pool, and it sleeps rather than being woken per
/// record: while records come it takes them every <see cref="GatherTime"/>, one wake-up each time; only an idle writer
/// (nothing queued) is woken by the next record. The request threads never hand a sink work through the thread pool,
/// and no timer thread is involved: in issue 7's benchmark (2 cores), a pool worker and a timer per batch cost about
/// 4,000 thread switches a second and a seventh of the gateway's CPU samples.
/// </remarks>
internal abstract class RecordSink : IAsyncDisposable
{
    /// <summary>
    /// How long records gather in the queue before the writer takes them (see <see cref="WaitForRecords"/>): long
    /// enough that a busy sink's writer wakes a few hundred times a second rather than once per call, short enough
    /// that most queued records are gone before the next gen0 collection (a record still queued then is promoted, and a
    /// queue of 0.1 s turned most collections into gen1 ones).
    /// </summary>
    public static readonly TimeSpan GatherTime = TimeSpan.FromMilliseconds(5);

    private readonly TimeSpan _idleCheck;
    private readonly Channel<CallRecord> _queue;
    private readonly CancellationTokenSource _abort = new();
    private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);
    private readonly TaskCompletionSource _writerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _writerIdle;
    private bool _stopping;
    private int _fullLogged;

    protected RecordSink(CallRecordOptions options, RecordMetrics metrics, ILogger logger, string sinkName, string target)
    {
        _idleCheck = options.WriterIdleCheck;
        Capacity = options.QueueCapacity;
        Metrics = metrics;
        Logger = logger;
        SinkName = sinkName;
        Target = target;
        _queue = Channel.CreateBounded<CallRecord>(new BoundedChannelOptions(Capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        });
    }

    /// <summary>What <see cref="WaitForRecords"/> found.</summary>
    protected enum Queued
    {
        /// <summary>Records are queued (and had <see cref="GatherTime"/> to gather).</summary>
        Records,

        /// <summary>Nothing came for the idle time asked for.</summary>
        Idle,

        /// <summary>The queue is closed and empty: the sink is stopping.</summary>
        Closed,
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

    /// <summary>Starts the writer thread; call once, after construction.</summary>
    public void Start()
    {
        var thread = new Thread(RunWriter)
        {
            IsBackground = true,
            Name = "eas-records-" + SinkName,
        };
        thread.Start();
    }

    /// <summary>Queues <paramref name="record"/>; false (and nothing queued) when the queue is full or closed.</summary>
    public bool TryEnqueue(CallRecord record)
    {
        if (_queue.Writer.TryWrite(record))
        {
            // The write took the queue's lock (a full fence), so this read cannot miss a writer that went idle after
            // it found the queue empty; a writer that finds the record itself was never idle.
            if (Volatile.Read(ref _writerIdle) != 0)
            {
                _wake.Set();
            }

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
        Volatile.Write(ref _stopping, true);
        _queue.Writer.TryComplete();
        _wake.Set();
        try
        {
            await _writerDone.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            await _abort.CancelAsync();
            _wake.Set();
            try
            {
                await _writerDone.Task.WaitAsync(TimeSpan.FromSeconds(1));
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
        if (_writerDone.Task.IsCompleted)
        {
            // A writer still stuck in a write (a hung file system) keeps its token; it is a background thread. The wake
            // event holds no handle (nothing asks for one) and stays usable for a request that queued just before the
            // end and wakes the writer after it.
            _abort.Dispose();
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// On the writer thread: sleeps until a record is queued, then lets more gather for <see cref="GatherTime"/> (a
    /// stopping sink skips the gathering).
    /// </summary>
    /// <param name="idleLimit">How long to wait for a first record before answering <see cref="Queued.Idle"/>;
    /// <see cref="Timeout.InfiniteTimeSpan"/> waits for one however long it takes.</param>
    protected Queued WaitForRecords(TimeSpan idleLimit)
    {
        if (!Reader.TryPeek(out _))
        {
            var waited = WaitForFirst(idleLimit);
            if (waited != Queued.Records)
            {
                return waited;
            }
        }

        // A stopping sink writes what is queued at once.
        _wake.Reset();
        if (!IsStopping)
        {
            _wake.Wait(GatherTime);
        }

        return Queued.Records;
    }

    /// <summary>Writes records from <see cref="Reader"/> until it is closed, on the writer thread.</summary>
    protected abstract void Run();

    protected virtual ValueTask CloseAsync() => ValueTask.CompletedTask;

    private bool IsStopping => Volatile.Read(ref _stopping) || _abort.IsCancellationRequested;

    private Queued WaitForFirst(TimeSpan idleLimit)
    {
        var started = Environment.TickCount64;
        Volatile.Write(ref _writerIdle, 1);
        Interlocked.MemoryBarrier();
        try
        {
            while (!Reader.TryPeek(out _))
            {
                if (Reader.Completion.IsCompleted || _abort.IsCancellationRequested)
                {
                    return Queued.Closed;
                }

                var wait = _idleCheck;
                if (idleLimit != Timeout.InfiniteTimeSpan)
                {
                    var left = idleLimit - TimeSpan.FromMilliseconds(Environment.TickCount64 - started);
                    if (left <= TimeSpan.Zero)
                    {
                        return Queued.Idle;
                    }

                    wait = left < wait ? left : wait;
                }

                _wake.Wait(wait);
                _wake.Reset();
            }

            return Queued.Records;
        }
        finally
        {
            Volatile.Write(ref _writerIdle, 0);
        }
    }

    private void RunWriter()
    {
        try
        {
            Run();
        }
        catch (OperationCanceledException) when (Aborted.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // A writer bug must not leave records queued forever: count them as dropped instead.
            RecordsLog.WriterFailed(Logger, Target, e);
        }

        try
        {
            // Until the queue is closed, what comes is dropped (counted).
            while (WaitForFirst(Timeout.InfiniteTimeSpan) == Queued.Records || Reader.TryPeek(out _))
            {
                while (Reader.TryRead(out var record))
                {
                    Metrics.Dropped(record.Service, SinkName);
                }
            }
        }
        finally
        {
            _writerDone.TrySetResult();
        }
    }
}
