using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Resources;

namespace Eas.Node.Gateway.Records;

/// <summary>
/// Call records as OpenTelemetry logs, posted over OTLP/HTTP (protobuf) to one collector endpoint; every service whose
/// sinker names that endpoint shares this sink. Each record is one log record: body "METHOD path status", the call's
/// trace and span id, the request's arrival time, and the attributes service, group, instance, node, method, path,
/// query, status, latency_ms, client, request.headers.&lt;name&gt;, request.body, request.body_truncated,
/// request.body_encoding and the same for response.
/// </summary>
/// <remarks>
/// <para>
/// Built on the OpenTelemetry SDK (its <see cref="OtlpLogExporter"/> does the protobuf encoding, HTTP and the protocol's
/// details) rather than a hand-written exporter: per-service endpoints only need one small logger factory per distinct
/// endpoint, made by this sink's writer on first use. Its <see cref="BatchLogRecordExportProcessor"/> batches (up to
/// 512 records, at least once a second) on its own thread with a 3 s HTTP timeout.
/// </para>
/// <para>
/// The SDK drops records silently when its queue is full and does not say which export failed, so this sink keeps the
/// count itself: the writer takes one of 2048 slots (the SDK's queue size) per record before handing it to the SDK (the
/// SDK's queue can then never overflow; while the collector is slow the writer waits and this sink's own bounded queue
/// fills, which <see cref="CallRecorder.TryWrite"/> turns into counted drops), and a wrapper around the exporter sees each
/// batch's size and result, counts the records written or dropped by service (exports happen in the order records were
/// handed over) and gives the slots back.
/// </para>
/// </remarks>
internal sealed class OtlpRecordSink : RecordSink
{
    private const string Scope = "Eas.Node.Gateway.Records";

    private readonly Uri _endpoint;
    private readonly int _sdkQueueSize;
    private readonly int _exportTimeoutMilliseconds;
    private readonly SemaphoreSlim _slots;
    private readonly ConcurrentQueue<string> _handedOver = new();
    private ILoggerFactory? _factory;
    private ILogger? _otel;
    private CallRecord? _current;
    private bool _entered;
    private int _failing;

    public OtlpRecordSink(Uri endpoint, CallRecordOptions options, RecordMetrics metrics, ILogger logger)
        : base(options, metrics, logger, SinkerSettings.Otlp, endpoint.ToString())
    {
        _endpoint = endpoint;
        _sdkQueueSize = options.OtlpSdkQueueSize;
        _exportTimeoutMilliseconds = options.OtlpExportTimeoutMilliseconds;
        _slots = new SemaphoreSlim(_sdkQueueSize, _sdkQueueSize);
    }

    protected override void Run()
    {
        try
        {
            _factory = CreateFactory();
            _otel = _factory.CreateLogger(Scope);
        }
        catch (Exception e)
        {
            RecordsLog.OtlpSetupFailed(Logger, Target, e);
            return;
        }

        while (WaitForRecords(Timeout.InfiniteTimeSpan) == Queued.Records)
        {
            while (Reader.TryRead(out var record))
            {
                _slots.Wait(Aborted);
                Emit(record);
            }
        }
    }

    protected override async ValueTask CloseAsync()
    {
        var factory = _factory;
        if (factory is not null)
        {
            // Shutting the SDK down sends what it still holds; a dead collector must not hold up the gateway's stop.
            var shutdown = Task.Run(factory.Dispose);
            try
            {
                await shutdown.WaitAsync(TimeSpan.FromMilliseconds(_exportTimeoutMilliseconds + 1000));
            }
            catch (TimeoutException)
            {
            }
        }

        _slots.Dispose();
    }

    private ILoggerFactory CreateFactory()
    {
        var exporterOptions = new OtlpExporterOptions
        {
            Endpoint = _endpoint,
            Protocol = OtlpExportProtocol.HttpProtobuf,
            TimeoutMilliseconds = _exportTimeoutMilliseconds,
        };
        var exporter = new CountingExporter(new OtlpLogExporter(exporterOptions), this);
        var processor = new BatchLogRecordExportProcessor(
            exporter,
            maxQueueSize: _sdkQueueSize,
            scheduledDelayMilliseconds: 1000,
            exporterTimeoutMilliseconds: _exportTimeoutMilliseconds,
            maxExportBatchSize: Math.Min(512, _sdkQueueSize));
        return LoggerFactory.Create(logging =>
        {
            logging.SetMinimumLevel(LogLevel.Information);
            logging.AddOpenTelemetry(otel =>
            {
                // RecordProcessor sets the body (and the formatted message, which the exporter sends as the body).
                otel.IncludeFormattedMessage = true;
                otel.SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("eas-gateway"));
                otel.AddProcessor(new RecordProcessor(this));
                otel.AddProcessor(processor);
            });
        });
    }

    private void Emit(CallRecord record)
    {
        _current = record;
        _entered = false;
        try
        {
            _otel!.Log(LogLevel.Information, default, record, null, static (_, _) => "");
        }
        catch (Exception)
        {
            // Counted below when the SDK did not take it.
        }
        finally
        {
            _current = null;
        }

        if (!_entered)
        {
            // The SDK never took it (it cannot happen with this set-up, but a slot must not leak).
            _slots.Release();
            Metrics.Dropped(record.Service, SinkName);
        }
    }

    private static string Message(CallRecord record) =>
        string.Create(CultureInfo.InvariantCulture, $"{record.Method} {record.Path} {record.Status}");

    /// <summary>A batch of <paramref name="count"/> records left the SDK: count them by service and free their slots.</summary>
    private void Exported(int count, bool success)
    {
        for (var i = 0; i < count && _handedOver.TryDequeue(out var service); i++)
        {
            if (success)
            {
                Metrics.Written(service, SinkName);
            }
            else
            {
                Metrics.Dropped(service, SinkName);
            }
        }

        if (success)
        {
            if (Interlocked.Exchange(ref _failing, 0) != 0)
            {
                RecordsLog.OtlpRecovered(Logger, Target);
            }
        }
        else if (Interlocked.Exchange(ref _failing, 1) == 0)
        {
            RecordsLog.OtlpFailed(Logger, Target, count);
        }

        if (count > 0)
        {
            try
            {
                _slots.Release(count);
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    internal static List<KeyValuePair<string, object?>> Attributes(CallRecord record)
    {
        var attributes = new List<KeyValuePair<string, object?>>(24 + record.Request.Headers.Count + record.Response.Headers.Count)
        {
            new("service", record.Service),
        };
        AddIfSet(attributes, "group", record.Group);
        AddIfSet(attributes, "instance", record.Instance);
        AddIfSet(attributes, "node", record.Node);
        attributes.Add(new("method", record.Method));
        attributes.Add(new("path", record.Path));
        AddIfSet(attributes, "query", record.Query);
        attributes.Add(new("status", (long)record.Status));
        attributes.Add(new("latency_ms", record.LatencyMs));
        AddIfSet(attributes, "client", record.Client);
        AddMessage(attributes, "request.", record.Request);
        AddMessage(attributes, "response.", record.Response);
        return attributes;
    }

    private static void AddIfSet(List<KeyValuePair<string, object?>> attributes, string key, string value)
    {
        if (value.Length > 0)
        {
            attributes.Add(new(key, value));
        }
    }

    private static void AddMessage(List<KeyValuePair<string, object?>> attributes, string prefix, CallRecordMessage message)
    {
        foreach (var (name, value) in message.Headers)
        {
            if (CallRecordHeaders.IsRecorded(name))
            {
                attributes.Add(new(prefix + "headers." + name, value));
            }
        }

        var (text, encoding) = BodyText.Encode(message.Body.Span, message.BodyTruncated);
        attributes.Add(new(prefix + "body", text));
        attributes.Add(new(prefix + "body_truncated", message.BodyTruncated));
        attributes.Add(new(prefix + "body_encoding", encoding));
    }

    /// <summary>
    /// Runs inside <c>ILogger.Log</c> on the writer's thread, before the batch processor: gives the log record the call's
    /// time, trace context, body and attributes.
    /// </summary>
    private sealed class RecordProcessor(OtlpRecordSink sink) : BaseProcessor<LogRecord>
    {
        public override void OnEnd(LogRecord data)
        {
            var record = sink._current;
            if (record is null)
            {
                return;
            }

            // Noted here, before the batch processor queues the record, so the exporter always finds it.
            sink._entered = true;
            sink._handedOver.Enqueue(record.Service);
            data.Timestamp = record.Time.UtcDateTime;
            data.Body = Message(record);
            data.FormattedMessage = data.Body;
            data.Attributes = Attributes(record);
            var traceId = TraceText.ParseTraceId(record.TraceId);
            if (traceId != default)
            {
                // OTLP carries a trace id only with a span id: without the caller's span, a fresh one under its trace.
                var spanId = TraceText.ParseSpanId(record.SpanId);
                data.TraceId = traceId;
                data.SpanId = spanId != default ? spanId : ActivitySpanId.CreateRandom();
                data.TraceFlags = ActivityTraceFlags.Recorded;
            }
            else
            {
                data.TraceId = default;
                data.SpanId = default;
                data.TraceFlags = ActivityTraceFlags.None;
            }
        }
    }

    /// <summary>The OTLP exporter, with each batch's result counted by the sink.</summary>
    private sealed class CountingExporter(OtlpLogExporter inner, OtlpRecordSink sink) : BaseExporter<LogRecord>
    {
        private static readonly PropertyInfo? _parentProvider = typeof(BaseExporter<LogRecord>).GetProperty(nameof(ParentProvider));
        private bool _parentSet;

        public override ExportResult Export(in Batch<LogRecord> batch)
        {
            var count = (int)batch.Count;
            var result = ExportResult.Failure;
            try
            {
                SetParent();
                result = inner.Export(batch);
            }
            catch (Exception)
            {
                // Counted as dropped below.
            }

            sink.Exported(count, result == ExportResult.Success);
            return result;
        }

        protected override bool OnForceFlush(int timeoutMilliseconds) => inner.ForceFlush(timeoutMilliseconds);

        protected override bool OnShutdown(int timeoutMilliseconds) => inner.Shutdown(timeoutMilliseconds);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        private void SetParent()
        {
            // The OTLP exporter reads the resource (service.name) from its provider, which the SDK sets only on the
            // exporter it was given, this wrapper; the setter is internal. Without it the records go out with an empty
            // resource, which collectors accept.
            if (_parentSet)
            {
                return;
            }

            _parentSet = true;
            try
            {
                if (inner.ParentProvider is null && ParentProvider is not null)
                {
                    _parentProvider?.SetValue(inner, ParentProvider);
                }
            }
            catch (Exception e) when (e is TargetInvocationException or ArgumentException or MethodAccessException)
            {
            }
        }
    }
}
