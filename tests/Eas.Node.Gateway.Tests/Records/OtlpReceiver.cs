using System.Collections.Concurrent;
using Eas.Node.Gateway.Tests.Records.Otlp;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Eas.Node.Gateway.Tests.Records;

/// <summary>
/// A real OTLP/HTTP logs receiver on 127.0.0.1: Kestrel accepting <c>POST /v1/logs</c> with a protobuf
/// <c>ExportLogsServiceRequest</c>, as an OpenTelemetry collector does. It keeps every payload (raw and decoded). A slow
/// receiver holds every request until <see cref="Release"/> (or its disposal).
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _held;

    private OtlpReceiver(WebApplication app) => _app = app;

    /// <summary>Base URL, e.g. http://127.0.0.1:43123 (the sink appends /v1/logs).</summary>
    public string Url { get; private set; } = "";

    /// <summary>Every request body as it arrived.</summary>
    public ConcurrentQueue<byte[]> Payloads { get; } = new();

    /// <summary>Every decoded export request.</summary>
    public ConcurrentQueue<ExportLogsServiceRequest> Requests { get; } = new();

    /// <summary>Requests that arrived at a slow receiver and are being held.</summary>
    public int Held => Volatile.Read(ref _held);

    /// <summary>Every log record received, with its resource.</summary>
    public IReadOnlyList<(Resource Resource, LogRecord Log)> Logs =>
        [.. Requests.SelectMany(r => r.ResourceLogs).SelectMany(rl => rl.ScopeLogs.SelectMany(sl => sl.LogRecords.Select(l => (rl.Resource, l))))];

    public static async Task<OtlpReceiver> StartAsync(bool slow = false)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        var app = builder.Build();
        app.Urls.Add("http://127.0.0.1:0");
        var receiver = new OtlpReceiver(app);
        app.Run(async context =>
        {
            if (context.Request.Method != HttpMethods.Post || context.Request.Path != "/v1/logs")
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            var payload = buffer.ToArray();
            receiver.Payloads.Enqueue(payload);
            if (slow)
            {
                Interlocked.Increment(ref receiver._held);
                await receiver._release.Task.WaitAsync(context.RequestAborted);
            }

            if (!string.Equals(context.Request.ContentType, "application/x-protobuf", StringComparison.OrdinalIgnoreCase))
            {
                context.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
                return;
            }

            receiver.Requests.Enqueue(ExportLogsServiceRequest.Parser.ParseFrom(payload));
            context.Response.ContentType = "application/x-protobuf";
            await context.Response.Body.WriteAsync(new ExportLogsServiceResponse().ToByteArray());
        });
        await app.StartAsync();
        receiver.Url = app.Urls.First();
        return receiver;
    }

    public void Release() => _release.TrySetResult();

    public async ValueTask DisposeAsync()
    {
        Release();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Reading OTLP attributes in assertions.</summary>
internal static class OtlpValues
{
    public static Dictionary<string, object?> Attributes(this LogRecord log) =>
        log.Attributes.ToDictionary(a => a.Key, a => Value(a.Value));

    public static Dictionary<string, object?> Attributes(this Resource resource) =>
        resource.Attributes.ToDictionary(a => a.Key, a => Value(a.Value));

    public static object? Value(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue,
        AnyValue.ValueOneofCase.IntValue => value.IntValue,
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue,
        AnyValue.ValueOneofCase.BytesValue => value.BytesValue.ToByteArray(),
        _ => null,
    };
}
