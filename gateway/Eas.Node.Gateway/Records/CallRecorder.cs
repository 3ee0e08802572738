using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Prometheus;

namespace Eas.Node.Gateway.Records;

/// <summary>
/// Call records (EAS <c>sinker</c>): one per gateway, shared by all requests. A call to a service with a sinker is
/// wrapped with <see cref="Begin"/>, finished with <see cref="CallCapture.Finish"/> and handed over with
/// <see cref="TryWrite"/>, which never waits and never throws: each sink (one file per service, one OTLP endpoint shared
/// by the services that name it) has a bounded queue and one background writer, and a record that does not fit, or that
/// its sink fails to take, is dropped and counted in <c>eas_gateway_records_dropped_total{service,sink}</c>; records
/// that made it are counted in <c>eas_gateway_records_written_total{service,sink}</c>.
/// </summary>
public sealed class CallRecorder : IAsyncDisposable
{
    private const string UnknownSink = "unknown";

    private readonly CallRecordOptions _options;
    private readonly string _directory;
    private readonly RecordMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly ConcurrentDictionary<string, RecordSink> _files = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RecordSink> _otlp = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _warned = new(StringComparer.Ordinal);
    private readonly Lock _create = new();
    private volatile bool _disposed;

    /// <summary>Makes the recorder; sinks start on first use.</summary>
    /// <param name="options">Validated here: invalid options throw <see cref="ArgumentException"/> with every problem.</param>
    /// <param name="registry">Where the record counters are registered.</param>
    /// <param name="loggerFactory">For the gateway's own log (failing sinks are logged once per outage). Null logs nothing.</param>
    /// <param name="timeProvider">The clock for the records' times; null is the system clock.</param>
    public CallRecorder(CallRecordOptions options, CollectorRegistry registry, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(registry);
        var problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(Environment.NewLine, problems), nameof(options));
        }

        _options = options;
        _directory = string.IsNullOrEmpty(options.Directory) ? "" : Path.GetFullPath(options.Directory);
        _metrics = new RecordMetrics(registry);
        _logger = (ILogger?)loggerFactory?.CreateLogger<CallRecorder>() ?? NullLogger.Instance;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The options in use.</summary>
    public CallRecordOptions Options => _options;

    /// <summary>
    /// Starts recording a call to a service with <paramref name="sinker"/>: puts tees on <paramref name="context"/>'s
    /// request body and response body feature that keep the first <see cref="BodyLimit"/> bytes of each. Call it before
    /// the request is forwarded (before anything reads the request body or writes the response).
    /// </summary>
    /// <param name="context">The call.</param>
    /// <param name="sinker">The service's sinker.</param>
    /// <param name="startTimestamp">
    /// <see cref="Stopwatch.GetTimestamp"/> when the request arrived, for the record's time and latency; 0 is now.
    /// </param>
    public CallCapture Begin(HttpContext context, SinkerSettings sinker, long startTimestamp = 0)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(sinker);
        return new CallCapture(context, BodyLimit(sinker), startTimestamp == 0 ? Stopwatch.GetTimestamp() : startTimestamp, _timeProvider);
    }

    /// <summary>How many bytes of each body a call with <paramref name="sinker"/> keeps.</summary>
    public int BodyLimit(SinkerSettings sinker) =>
        sinker.MaxBodyBytes > 0 ? Math.Min(sinker.MaxBodyBytes, CallRecordOptions.MaxBodyBytesCeiling) : _options.MaxBodyBytes;

    /// <summary>
    /// Queues <paramref name="record"/> for <paramref name="sinker"/>'s sink. Never waits and never throws: false means
    /// the record was dropped (queue full, no usable sink, recorder disposed) and counted.
    /// </summary>
    public bool TryWrite(CallRecord record, SinkerSettings sinker)
    {
        try
        {
            if (_disposed || record is null || sinker is null)
            {
                return false;
            }

            var sink = SinkFor(record.Service, sinker);
            if (sink is null)
            {
                return false;
            }

            if (sink.TryEnqueue(record))
            {
                return true;
            }

            _metrics.Dropped(record.Service, sink.SinkName);
            return false;
        }
        catch (Exception)
        {
            return false;
        }
    }

    /// <summary>Stops every sink: what is queued is written (up to 5 s per sink), then files are closed.</summary>
    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        RecordSink[] sinks;
        lock (_create)
        {
            sinks = [.. _files.Values, .. _otlp.Values];
        }

        await Task.WhenAll(sinks.Select(s => s.DisposeAsync().AsTask()));
    }

    private RecordSink? SinkFor(string service, SinkerSettings sinker)
    {
        switch (sinker.Type)
        {
            case SinkerSettings.File:
                if (_files.TryGetValue(service, out var file))
                {
                    return file;
                }

                if (_directory.Length == 0)
                {
                    return Unusable(service, SinkerSettings.File, $"its sinker is \"file\" but {CallRecordOptions.SectionName}:Directory is not set; set it to a writable directory");
                }

                if (!IsFileName(service))
                {
                    return Unusable(service, SinkerSettings.File, "the service name cannot be a file name");
                }

                return Create(_files, service, () => new FileRecordSink(service, _directory, _options, _metrics, _logger));

            case SinkerSettings.Otlp:
                if (_otlp.TryGetValue(sinker.OtlpEndpoint, out var otlp))
                {
                    return otlp;
                }

                var uri = sinker.OtlpLogsUri();
                if (uri is null)
                {
                    return Unusable(service, SinkerSettings.Otlp, $"its sinker's OTLP endpoint '{sinker.OtlpEndpoint}' is not an http:// or https:// URL; set sinker.config.endpoint to for example http://collector:4318");
                }

                return Create(_otlp, sinker.OtlpEndpoint, () => new OtlpRecordSink(uri, _options, _metrics, _logger));

            default:
                return Unusable(service, UnknownSink, $"its sinker type '{sinker.Type}' is not \"file\" or \"otlp\"");
        }
    }

    private RecordSink? Create(ConcurrentDictionary<string, RecordSink> sinks, string key, Func<RecordSink> create)
    {
        lock (_create)
        {
            if (_disposed)
            {
                return null;
            }

            if (!sinks.TryGetValue(key, out var sink))
            {
                sink = create();
                sink.Start();
                sinks[key] = sink;
            }

            return sink;
        }
    }

    private RecordSink? Unusable(string service, string sink, string reason)
    {
        _metrics.Dropped(service, sink);
        if (_warned.TryAdd(service + "\n" + reason, 0))
        {
            RecordsLog.Unusable(_logger, service, reason);
        }

        return null;
    }

    private static bool IsFileName(string service) =>
        service.Length > 0
        && service != "."
        && service != ".."
        && service.AsSpan().IndexOfAny(Path.GetInvalidFileNameChars()) < 0
        && service.AsSpan().IndexOfAny('/', '\\') < 0;
}
