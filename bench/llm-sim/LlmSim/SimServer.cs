using System.Buffers;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Eas.Node.LlmSim;

/// <summary>One simulated replica: its options, its engine loop and its fault switches.</summary>
public sealed class SimReplica : IAsyncDisposable
{
    public SimReplica(SimOptions options, TimeProvider? time = null)
    {
        Options = options;
        Runner = new EngineRunner(new EngineCore(options.Engine, options.Seed), time) { Slowdown = options.Slowdown };
    }

    public SimOptions Options { get; }

    public EngineRunner Runner { get; }

    public string Name => Options.Name;

    private volatile bool _healthFail;
    private volatile bool _metricsHang;

    /// <summary>Fault switch: /health answers 503.</summary>
    public bool HealthFail
    {
        get => _healthFail;
        set => _healthFail = value;
    }

    /// <summary>Fault switch: /metrics never answers (a frozen scrape source).</summary>
    public bool MetricsHang
    {
        get => _metricsHang;
        set => _metricsHang = value;
    }

    public ValueTask DisposeAsync() => Runner.DisposeAsync();
}

/// <summary>The HTTP side of llm-sim: Kestrel, OpenAI routes, /metrics, /health and the /sim fault endpoints.</summary>
public static class SimServer
{
    public const string ReplicaHeader = "x-llm-sim-replica";

    /// <summary>Builds the web application for <paramref name="replica"/> (listening on its host and port; port 0 picks one).</summary>
    public static WebApplication Build(SimReplica replica)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Parse(replica.Options.Host), replica.Options.Port);
        });
        var app = builder.Build();
        Map(app, replica);
        app.Lifetime.ApplicationStarted.Register(replica.Runner.Start);
        return app;
    }

    private static void Map(WebApplication app, SimReplica r)
    {
        app.Use((http, next) =>
        {
            http.Response.Headers[ReplicaHeader] = r.Name;
            return next(http);
        });
        app.MapPost("/v1/completions", (HttpContext http) => CompletionAsync(http, r, chat: false));
        app.MapPost("/v1/chat/completions", (HttpContext http) => CompletionAsync(http, r, chat: true));
        app.MapGet("/v1/models", (HttpContext http) => WriteJsonAsync(http, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            w.WriteStartObject();
            w.WriteString("id", r.Options.Engine.ModelName);
            w.WriteString("object", "model");
            w.WriteNumber("created", DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            w.WriteString("owned_by", "llm-sim");
            w.WriteString("root", r.Options.Engine.ModelName);
            w.WriteNumber("max_model_len", r.Options.MaxModelLen);
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }));
        app.MapGet("/health", (HttpContext http) =>
        {
            http.Response.StatusCode = r.HealthFail || r.Runner.Fault is not null ? 503 : 200;
            return Task.CompletedTask;
        });
        app.MapGet("/metrics", async (HttpContext http) =>
        {
            if (r.MetricsHang)
            {
                await Task.Delay(Timeout.Infinite, http.RequestAborted);
            }

            var text = r.Runner.Read(PrometheusText.Render);
            http.Response.ContentType = PrometheusText.ContentType;
            await http.Response.WriteAsync(text, http.RequestAborted);
        });
        app.MapGet("/sim/state", (HttpContext http) => WriteStateAsync(http, r));
        app.MapPost("/sim/fault", async (HttpContext http) =>
        {
            try
            {
                using var doc = await JsonDocument.ParseAsync(http.Request.Body, default, http.RequestAborted);
                var root = doc.RootElement;
                if (root.TryGetProperty("slowdown", out var s))
                {
                    if (s.ValueKind != JsonValueKind.Number || s.GetDouble() <= 0)
                    {
                        await WriteErrorAsync(http, new ApiError(400, "slowdown: must be a number > 0 (1 = as modelled); send e.g. {\"slowdown\": 3}", "slowdown"));
                        return;
                    }

                    r.Runner.Slowdown = s.GetDouble();
                }

                if (root.TryGetProperty("health_fail", out var h))
                {
                    r.HealthFail = h.ValueKind == JsonValueKind.True;
                }

                if (root.TryGetProperty("metrics_hang", out var m))
                {
                    r.MetricsHang = m.ValueKind == JsonValueKind.True;
                }
            }
            catch (JsonException ex)
            {
                await WriteErrorAsync(http, new ApiError(400, $"request body: not valid JSON ({ex.Message}); send e.g. {{\"slowdown\": 3, \"health_fail\": false, \"metrics_hang\": false}}"));
                return;
            }

            await WriteStateAsync(http, r);
        });
    }

    private static async Task CompletionAsync(HttpContext http, SimReplica r, bool chat)
    {
        var ct = http.RequestAborted;
        OpenAiRequest request;
        try
        {
            using var doc = await JsonDocument.ParseAsync(http.Request.Body, default, ct);
            var (parsed, error) = OpenAiRequestParser.Parse(doc.RootElement, chat, r.Options);
            if (error is not null)
            {
                await WriteErrorAsync(http, error);
                return;
            }

            request = parsed!;
        }
        catch (JsonException ex)
        {
            await WriteErrorAsync(http, new ApiError(400, $"request body: not valid JSON ({ex.Message}); send a JSON object"));
            return;
        }

        var seq = r.Runner.TrySubmit(request.PromptTokens, request.MaxTokens, r.Options.MaxWaiting);
        if (seq is null)
        {
            http.Response.Headers.RetryAfter = "1";
            await WriteErrorAsync(http, new ApiError(503,
                $"server busy: {r.Options.MaxWaiting} requests are already waiting (--max-waiting); retry later or send to another replica"));
            return;
        }

        using var abort = ct.Register(() => r.Runner.Abort(seq));
        var id = (chat ? "chatcmpl-" : "cmpl-") + r.Name + "-" + seq.Id;
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var model = r.Options.Engine.ModelName;
        try
        {
            if (request.Stream)
            {
                http.Response.StatusCode = 200;
                http.Response.ContentType = "text/event-stream";
                http.Response.Headers.CacheControl = "no-cache";
                await http.Response.StartAsync(ct);
                var pipe = http.Response.BodyWriter;
                using var w = new ResponseWriter(pipe, chat, id, created, model, r.Name);
                var reader = seq.Events;
                var interval = r.Options.StreamInterval;
                while (await reader.WaitToReadAsync(ct))
                {
                    var flush = false;
                    while (reader.TryRead(out var token))
                    {
                        w.WriteTokenEvent(token);
                        flush |= token.Index % interval == 0 || token.Last;
                    }

                    if (flush)
                    {
                        await pipe.FlushAsync(ct);
                    }
                }

                if (seq.State != SequenceState.Finished)
                {
                    return;
                }

                if (request.IncludeUsage)
                {
                    w.WriteUsageEvent(seq.PromptLength, seq.Generated, seq.CachedPromptTokens);
                }

                w.WriteDone();
                await pipe.FlushAsync(ct);
            }
            else
            {
                var text = new StringBuilder(request.MaxTokens * 6);
                await foreach (var token in seq.Events.ReadAllAsync(ct))
                {
                    text.Append(' ').Append(token.Text);
                }

                if (seq.State != SequenceState.Finished)
                {
                    return;
                }

                var buffer = new ArrayBufferWriter<byte>(1024 + text.Length * 2);
                using (var w = new ResponseWriter(buffer, chat, id, created, model, r.Name))
                {
                    w.WriteWhole(text.ToString(), seq.PromptLength, seq.Generated, seq.CachedPromptTokens);
                }

                http.Response.StatusCode = 200;
                http.Response.ContentType = "application/json";
                await http.Response.Body.WriteAsync(buffer.WrittenMemory, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The client went away; the registration above dropped the request from the engine.
        }
    }

    private static Task WriteStateAsync(HttpContext http, SimReplica r)
    {
        var state = r.Runner.Read(core => (
            core.RunningCount, core.WaitingCount, core.Kv.Usage, core.Kv.CachedBlocks, core.Kv.TotalBlocks,
            core.Stats.PrefixHits, core.Stats.PrefixQueries, core.Stats.Finished, core.Stats.Preemptions, core.Stats.StepLateSeconds));
        return WriteJsonAsync(http, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("replica", r.Name);
            w.WriteNumber("running", state.RunningCount);
            w.WriteNumber("waiting", state.WaitingCount);
            w.WriteNumber("kv_cache_usage", state.Usage);
            w.WriteNumber("cached_blocks", state.CachedBlocks);
            w.WriteNumber("total_blocks", state.TotalBlocks);
            w.WriteNumber("prefix_cache_hits", state.PrefixHits);
            w.WriteNumber("prefix_cache_queries", state.PrefixQueries);
            w.WriteNumber("finished", state.Finished);
            w.WriteNumber("preemptions", state.Preemptions);
            w.WriteNumber("step_late_seconds", state.StepLateSeconds);
            w.WriteNumber("slowdown", r.Runner.Slowdown);
            w.WriteBoolean("health_fail", r.HealthFail);
            w.WriteBoolean("metrics_hang", r.MetricsHang);
            w.WriteEndObject();
        });
    }

    private static Task WriteErrorAsync(HttpContext http, ApiError error)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        ResponseWriter.WriteError(buffer, error);
        http.Response.StatusCode = error.Status;
        http.Response.ContentType = "application/json";
        return http.Response.Body.WriteAsync(buffer.WrittenMemory, http.RequestAborted).AsTask();
    }

    private static Task WriteJsonAsync(HttpContext http, int status, Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            write(w);
        }

        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        return http.Response.Body.WriteAsync(buffer.WrittenMemory, http.RequestAborted).AsTask();
    }
}
