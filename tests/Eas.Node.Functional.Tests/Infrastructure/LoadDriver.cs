using System.Collections.Concurrent;
using System.Diagnostics;

namespace Eas.Node.Functional.Tests.Infrastructure;

/// <summary>
/// A steady, bounded load through the gateway: one request every 1/rate seconds (open loop, so a slow
/// answer does not slow the load), each counted as 2xx, another status, or a connection error.
/// </summary>
public sealed class LoadDriver : IAsyncDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromSeconds(30) }) { Timeout = TimeSpan.FromSeconds(30) };
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<Task> _inFlight = [];
    private readonly ConcurrentQueue<string> _failures = new();
    private readonly Task _loop;
    private long _ok;
    private long _notOk;
    private long _errors;

    private LoadDriver(string url, string token, int requestsPerSecond, TimeSpan limit)
    {
        _loop = Task.Run(() => LoopAsync(url, token, requestsPerSecond, limit));
    }

    public long Ok => Interlocked.Read(ref _ok);

    public long NotOk => Interlocked.Read(ref _notOk);

    public long Errors => Interlocked.Read(ref _errors);

    public long Total => Ok + NotOk + Errors;

    /// <summary>The first failures, each with when it happened and what it was.</summary>
    public IReadOnlyList<string> Failures => [.. _failures.Take(20)];

    /// <summary>Starts sending <paramref name="requestsPerSecond"/> GETs to <paramref name="url"/> until stopped or <paramref name="limit"/> passes.</summary>
    public static LoadDriver Start(string url, string token, int requestsPerSecond, TimeSpan limit) => new(url, token, requestsPerSecond, limit);

    /// <summary>Stops sending and waits for every request in flight.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        await Task.WhenAll(_inFlight);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
        _http.Dispose();
    }

    public override string ToString() => $"{Total} requests: {Ok} 2xx, {NotOk} other status, {Errors} connection errors; first failures: {string.Join("; ", Failures)}";

    private async Task LoopAsync(string url, string token, int requestsPerSecond, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        var interval = TimeSpan.FromSeconds(1.0 / requestsPerSecond);
        for (long sent = 0; !_stop.IsCancellationRequested && clock.Elapsed < limit; sent++)
        {
            var due = interval * sent;
            if (due > clock.Elapsed)
            {
                try
                {
                    await Task.Delay(due - clock.Elapsed, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }

            _inFlight.Add(SendAsync(url, token, clock));
        }
    }

    private async Task SendAsync(string url, string token, Stopwatch clock)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.TryAddWithoutValidation("Authorization", token);
            using var response = await _http.SendAsync(request);
            await response.Content.ReadAsByteArrayAsync();
            if ((int)response.StatusCode is >= 200 and < 300)
            {
                Interlocked.Increment(ref _ok);
            }
            else
            {
                Interlocked.Increment(ref _notOk);
                Fail(clock, $"HTTP {(int)response.StatusCode}");
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            Interlocked.Increment(ref _errors);
            Fail(clock, e.GetType().Name + ": " + e.Message);
        }
    }

    private void Fail(Stopwatch clock, string what)
    {
        if (_failures.Count < 20)
        {
            _failures.Enqueue($"{clock.Elapsed.TotalSeconds:0.0}s {what}");
        }
    }
}
