using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Eas.Node.LlmLoad;

/// <summary>What happened to one request.</summary>
public sealed class RequestRecord
{
    public int Index { get; init; }

    public bool Measured { get; init; }

    /// <summary>Planned send time, seconds since the run started.</summary>
    public double Scheduled { get; init; }

    public double Sent { get; set; }

    /// <summary>First SSE data event (or the whole body when not streaming).</summary>
    public double? FirstChunk { get; set; }

    public double? End { get; set; }

    public int Status { get; set; }

    /// <summary>Null on success; else the HTTP status or connect_error, timeout, stream_broken, unfinished.</summary>
    public string? Error { get; set; }

    public string? ErrorDetail { get; set; }

    public int OutputTokens { get; set; }

    public int? PromptTokens { get; set; }

    public int? CachedTokens { get; set; }

    public string? Replica { get; set; }

    public int Target { get; set; }

    public List<double> Gaps { get; } = [];

    public bool Ok => Error is null;
}

/// <summary>Spreads requests over several base URLs (client side).</summary>
public sealed class TargetPicker
{
    private readonly string _mode;
    private readonly int[] _inflight;
    private readonly Random _rng;
    private readonly Lock _gate = new();
    private int _next = -1;

    public TargetPicker(string mode, int targets, int seed)
    {
        _mode = mode;
        _inflight = new int[targets];
        _rng = new Random(seed);
    }

    public int Pick(RequestSpec spec)
    {
        var n = _inflight.Length;
        lock (_gate)
        {
            int i;
            switch (_mode)
            {
                case "random":
                    i = _rng.Next(n);
                    break;
                case "affinity":
                    i = (int)((uint)spec.AffinityKey % (uint)n);
                    break;
                case "least":
                    var start = ++_next;
                    i = ((start % n) + n) % n;
                    for (var k = 1; k < n; k++)
                    {
                        var j = (start + k) % n;
                        if (_inflight[j] < _inflight[i])
                        {
                            i = j;
                        }
                    }

                    break;
                default:
                    i = (int)((uint)++_next % (uint)n);
                    break;
            }

            _inflight[i]++;
            return i;
        }
    }

    public void Release(int i)
    {
        lock (_gate)
        {
            _inflight[i]--;
        }
    }
}

/// <summary>
/// Sends the workload open-loop: arrival times are drawn up front from a Poisson process and kept whatever the
/// server does (a slow server does not slow the arrivals); every request streams and is timed on its own.
/// </summary>
public sealed class LoadRunner : IDisposable
{
    private readonly LoadOptions _o;
    private readonly HttpClient _http;
    private readonly TargetPicker _picker;
    private long _origin = Stopwatch.GetTimestamp();
    private readonly List<RequestRecord> _records = [];
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _drainOver = new();
    private readonly int _warmupCount;
    private int _sendIndex = -1;
    private long _windowTokens;
    private long _windowCompleted;
    private double _windowStart = double.PositiveInfinity;
    private double _windowEnd = double.PositiveInfinity;
    private bool _windowOpen;

    public LoadRunner(LoadOptions options, HttpMessageHandler? handler = null)
    {
        _o = options;
        _http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            UseProxy = false,
            MaxConnectionsPerServer = int.MaxValue,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            AutomaticDecompression = DecompressionMethods.None,
        })
        {
            Timeout = System.Threading.Timeout.InfiniteTimeSpan,
        };
        _picker = new TargetPicker(options.ClientLb, options.Urls.Count, options.Seed);
        _warmupCount = (int)Math.Floor(options.Warmup * options.ExpectedRequests);
    }

    /// <summary>Called (once) when the first measured request is about to be sent.</summary>
    public Func<Task>? OnWindowStart { get; set; }

    /// <summary>Called when the arrivals end (before the drain).</summary>
    public Action? OnWindowEnd { get; set; }

    /// <summary>Seconds since the arrivals started (since construction before <see cref="RunAsync"/>).</summary>
    public double Now => Stopwatch.GetElapsedTime(_origin).TotalSeconds;

    public IReadOnlyList<RequestRecord> Records => _records;

    public double WindowStart => _windowStart;

    public double WindowEnd => _windowEnd;

    /// <summary>Output tokens received between the window's start and the end of arrivals.</summary>
    public long WindowTokens { get; private set; }

    /// <summary>Requests completed between the window's start and the end of arrivals.</summary>
    public long WindowCompleted { get; private set; }

    public int WarmupCount => _warmupCount;

    public List<double> SendLateness { get; } = [];

    /// <summary>Prewarm requests that failed (--prewarm).</summary>
    public int PrewarmFailed { get; private set; }

    public double PrewarmSeconds { get; private set; }

    /// <summary>Sends every prefix once (max_tokens 1, 4 concurrent) through the same targets; nothing is recorded.</summary>
    public async Task PrewarmAsync()
    {
        var start = Stopwatch.GetTimestamp();
        var workload = new PrefixWorkload(_o);
        var rng = new Random(HashCode.Combine(_o.Seed, 31337));
        using var gate = new SemaphoreSlim(4);
        var failed = 0;
        var tasks = Enumerable.Range(0, _o.Prefixes).Select(async p =>
        {
            var spec = workload.ForPrefix(p, rng, 1, stream: false);
            await gate.WaitAsync();
            var target = _picker.Pick(spec);
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, _o.Urls[target] + spec.Path)
                {
                    Content = new ByteArrayContent(spec.Body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
                };
                if (_o.Token is not null)
                {
                    request.Headers.TryAddWithoutValidation("Authorization", _o.Token);
                }

                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(_o.Timeout));
                using var response = await _http.SendAsync(request, timeout.Token);
                if (!response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref failed);
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
            {
                Interlocked.Increment(ref failed);
            }
            finally
            {
                _picker.Release(target);
                gate.Release();
            }
        }).ToList();
        await Task.WhenAll(tasks);
        PrewarmFailed = failed;
        PrewarmSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>Runs the whole workload: arrivals, then the drain.</summary>
    public async Task RunAsync(Action<string>? progress = null)
    {
        _origin = Stopwatch.GetTimestamp();
        var tasks = new List<Task>();
        using var ticker = progress is null ? null : new Timer(_ => progress(ProgressLine()), null, 5000, 5000);
        if (_o.MultiTurn)
        {
            await ArriveSessionsAsync(tasks);
        }
        else
        {
            await ArriveRequestsAsync(tasks);
        }

        CloseWindow();
        var all = Task.WhenAll(tasks);
        var drained = await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(_o.Drain))) == all;
        if (!drained)
        {
            await _drainOver.CancelAsync();
            await all;
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        _drainOver.Dispose();
    }

    private async Task ArriveRequestsAsync(List<Task> tasks)
    {
        var workload = new PrefixWorkload(_o);
        var rng = new Random(_o.Seed);
        var t = 0.0;
        for (var n = 0; ; n++)
        {
            t += -Math.Log(1 - rng.NextDouble()) / _o.Rate;
            if ((_o.Duration is { } d && t >= d) || (_o.Requests is { } max && n >= max))
            {
                break;
            }

            var spec = workload.Next(rng);
            await SleepUntilAsync(t, CancellationToken.None);
            var scheduled = t;
            tasks.Add(Task.Run(() => SendAsync(spec, scheduled)));
        }
    }

    private async Task ArriveSessionsAsync(List<Task> tasks)
    {
        var prefixes = PrefixWorkload.MakePrefixes(_o);
        var rng = new Random(_o.Seed);
        var sessionRate = _o.Rate / _o.Turns;
        var t = 0.0;
        for (var s = 0; ; s++)
        {
            t += -Math.Log(1 - rng.NextDouble()) / sessionRate;
            if (ArrivalsOver(t) || (_o.Requests is { } max && Volatile.Read(ref _sendIndex) + 1 >= max))
            {
                break;
            }

            await SleepUntilAsync(t, CancellationToken.None);
            var session = new ChatSession(_o, prefixes, s);
            var start = t;
            tasks.Add(Task.Run(() => RunSessionAsync(session, start)));
        }

        // Sessions keep sending turns until the arrival window closes.
        while (!ArrivalsOver(Now) && tasks.Any(x => !x.IsCompleted))
        {
            await Task.Delay(50);
        }
    }

    private bool ArrivalsOver(double t) => _o.Duration is { } d && t >= d;

    private async Task RunSessionAsync(ChatSession session, double start)
    {
        var due = start;
        for (var turn = 0; turn < _o.Turns; turn++)
        {
            if (turn > 0)
            {
                due = Now + session.ThinkSeconds();
                try
                {
                    await SleepUntilAsync(due, _drainOver.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            if (ArrivalsOver(due) || _windowEnd < double.PositiveInfinity || (_o.Requests is { } max && Volatile.Read(ref _sendIndex) + 1 >= max))
            {
                return;
            }

            var record = await SendAsync(session.NextTurn(), due, collectContent: true);
            if (!record.Ok)
            {
                return;
            }

            session.AddReply(record.Content ?? "");
        }
    }

    private async Task SleepUntilAsync(double t, CancellationToken ct)
    {
        var delay = t - Now;
        if (delay > 0.0005)
        {
            await Task.Delay(TimeSpan.FromSeconds(delay), ct);
        }
    }

    private void CloseWindow()
    {
        lock (_gate)
        {
            _windowEnd = Now;
            WindowTokens = Interlocked.Read(ref _windowTokens);
            WindowCompleted = Interlocked.Read(ref _windowCompleted);
            _windowOpen = false;
        }

        OnWindowEnd?.Invoke();
    }

    private async Task<SessionRecord> SendAsync(RequestSpec spec, double scheduled, bool collectContent = false)
    {
        var index = Interlocked.Increment(ref _sendIndex);
        var measured = index >= _warmupCount;
        if (index == _warmupCount)
        {
            lock (_gate)
            {
                _windowStart = Now;
                _windowOpen = true;
            }

            if (OnWindowStart is { } hook)
            {
                _ = Task.Run(hook);
            }
        }

        var rec = new RequestRecord { Index = index, Measured = measured, Scheduled = scheduled };
        lock (_gate)
        {
            _records.Add(rec);
            SendLateness.Add(Math.Max(0, Now - scheduled));
        }

        var target = _picker.Pick(spec);
        rec.Target = target;
        StringBuilder? content = collectContent ? new StringBuilder() : null;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_drainOver.Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(_o.Timeout));
        var ct = timeout.Token;
        var gotResponse = false;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, _o.Urls[target] + spec.Path)
            {
                Content = new ByteArrayContent(spec.Body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
            };
            if (_o.Token is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", _o.Token);
            }

            if (_o.SessionHeader is not null && spec.SessionId is not null)
            {
                request.Headers.TryAddWithoutValidation(_o.SessionHeader, spec.SessionId);
            }

            if (_o.Stream)
            {
                request.Headers.Accept.ParseAdd("text/event-stream");
            }

            rec.Sent = Now;
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            gotResponse = true;
            rec.Status = (int)response.StatusCode;
            if (response.Headers.TryGetValues("x-llm-sim-replica", out var names))
            {
                rec.Replica = names.FirstOrDefault();
            }

            if (!response.IsSuccessStatusCode)
            {
                var body = await response.Content.ReadAsStringAsync(ct);
                rec.End = Now;
                rec.Error = rec.Status.ToString(System.Globalization.CultureInfo.InvariantCulture);
                rec.ErrorDetail = body.Length > 300 ? body[..300] : body;
                return new SessionRecord(rec, null);
            }

            await using var stream = await response.Content.ReadAsStreamAsync(ct);
            if (_o.Stream)
            {
                await ReadEventsAsync(stream, rec, content, ct);
            }
            else
            {
                using var doc = await JsonDocument.ParseAsync(stream, default, ct);
                var now = Now;
                rec.FirstChunk = now;
                rec.End = now;
                ReadChunk(doc.RootElement, rec, content, whole: true);
                if (rec.OutputTokens > 0)
                {
                    CountWindow(rec.OutputTokens);
                }
            }

            if (rec.Ok)
            {
                CountCompleted();
            }
        }
        catch (OperationCanceledException) when (_drainOver.IsCancellationRequested)
        {
            rec.Error = "unfinished";
            rec.End = Now;
        }
        catch (OperationCanceledException)
        {
            rec.Error = "timeout";
            rec.End = Now;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or JsonException)
        {
            rec.Error = gotResponse ? "stream_broken" : "connect_error";
            rec.ErrorDetail = ex.Message;
            rec.End = Now;
        }
        finally
        {
            _picker.Release(target);
        }

        return new SessionRecord(rec, content?.ToString());
    }

    private async Task ReadEventsAsync(Stream stream, RequestRecord rec, StringBuilder? content, CancellationToken ct)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8, false, 4096);
        var done = false;
        double last = 0;
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (!line.StartsWith("data:", StringComparison.Ordinal))
            {
                continue;
            }

            var payload = line.AsSpan(5).Trim();
            if (payload.SequenceEqual("[DONE]"))
            {
                done = true;
                break;
            }

            var now = Now;
            using var doc = JsonDocument.Parse(payload.ToString());
            var tokens = ReadChunk(doc.RootElement, rec, content, whole: false);
            if (rec.FirstChunk is null)
            {
                rec.FirstChunk = now;
            }
            else if (tokens > 0)
            {
                rec.Gaps.Add(now - last);
            }

            if (tokens > 0)
            {
                last = now;
                CountWindow(tokens);
            }
        }

        rec.End = Now;
        if (!done)
        {
            rec.Error = "stream_broken";
            rec.ErrorDetail = "the stream ended without data: [DONE]";
        }
    }

    /// <summary>Takes text, usage and replica from one chunk (or a whole body); returns the tokens it carried.</summary>
    private static int ReadChunk(JsonElement root, RequestRecord rec, StringBuilder? content, bool whole)
    {
        if (rec.Replica is null && root.TryGetProperty("replica", out var replica) && replica.ValueKind == JsonValueKind.String)
        {
            rec.Replica = replica.GetString();
        }

        var tokens = 0;
        if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array)
        {
            foreach (var choice in choices.EnumerateArray())
            {
                string? text = null;
                if (choice.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
                {
                    text = t.GetString();
                }
                else if (choice.TryGetProperty(whole ? "message" : "delta", out var d) && d.ValueKind == JsonValueKind.Object
                    && d.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String)
                {
                    text = c.GetString();
                }

                if (!string.IsNullOrEmpty(text))
                {
                    content?.Append(text);
                    tokens += whole ? text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length : 1;
                }
            }
        }

        if (!whole)
        {
            rec.OutputTokens += tokens;
        }

        if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            if (usage.TryGetProperty("completion_tokens", out var ctk) && ctk.TryGetInt32(out var completion))
            {
                rec.OutputTokens = completion;
                tokens = whole ? completion : tokens;
            }

            if (usage.TryGetProperty("prompt_tokens", out var ptk) && ptk.TryGetInt32(out var prompt))
            {
                rec.PromptTokens = prompt;
            }

            if (usage.TryGetProperty("prompt_tokens_details", out var details) && details.ValueKind == JsonValueKind.Object
                && details.TryGetProperty("cached_tokens", out var cached) && cached.TryGetInt32(out var cachedTokens))
            {
                rec.CachedTokens = cachedTokens;
            }
        }
        else if (whole)
        {
            rec.OutputTokens = tokens;
        }

        return tokens;
    }

    private void CountWindow(int tokens)
    {
        lock (_gate)
        {
            if (_windowOpen)
            {
                _windowTokens += tokens;
            }
        }
    }

    private void CountCompleted()
    {
        lock (_gate)
        {
            if (_windowOpen)
            {
                _windowCompleted++;
            }
        }
    }

    private string ProgressLine()
    {
        int sent, done, failed;
        lock (_gate)
        {
            sent = _records.Count;
            done = _records.Count(r => r.End is not null && r.Ok);
            failed = _records.Count(r => r.End is not null && !r.Ok);
        }

        return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"t={Now:F0}s sent {sent} done {done} failed {failed} in flight {sent - done - failed}");
    }

    private sealed record SessionRecord(RequestRecord Record, string? Content)
    {
        public bool Ok => Record.Ok;
    }
}
