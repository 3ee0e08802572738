using System.Text;
using Eas.Node.Gateway.Records;
using Eas.Node.Gateway.Tests.Metrics;
using Prometheus;

namespace Eas.Node.Gateway.Tests.Records;

/// <summary>Helpers shared by the call-record tests.</summary>
internal static class RecordTestKit
{
    /// <summary>The record counters in <paramref name="registry"/> as a scrape.</summary>
    public static async Task<PrometheusText> ScrapeAsync(CollectorRegistry registry)
    {
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream);
        return PrometheusText.Parse(Encoding.UTF8.GetString(stream.ToArray()));
    }

    /// <summary>A counter's value, 0 when the series does not exist yet.</summary>
    public static async Task<double> CounterAsync(CollectorRegistry registry, string name, string service, string sink)
    {
        var scrape = await ScrapeAsync(registry);
        return scrape.Samples.TryGetValue($"{name}{{service=\"{service}\",sink=\"{sink}\"}}", out var value) ? value : 0;
    }

    public static Task<double> WrittenAsync(CollectorRegistry registry, string service, string sink) =>
        CounterAsync(registry, "eas_gateway_records_written_total", service, sink);

    public static Task<double> DroppedAsync(CollectorRegistry registry, string service, string sink) =>
        CounterAsync(registry, "eas_gateway_records_dropped_total", service, sink);

    /// <summary>Waits (up to <paramref name="seconds"/>) until <paramref name="condition"/> holds; fails the test with <paramref name="what"/> otherwise.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            if (await condition())
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"still not true after {seconds} s: {what}");
            }

            await Task.Delay(25);
        }
    }

    /// <summary>A record as the gateway would make it.</summary>
    public static CallRecord Record(
        string service = "echo",
        int status = 200,
        string requestBody = "{\"prompt\":\"hi\"}",
        string responseBody = "{\"text\":\"hello\"}",
        string path = "/api/predict/echo/v1/run",
        IReadOnlyList<KeyValuePair<string, string>>? requestHeaders = null) =>
        new()
        {
            Time = new DateTimeOffset(2025, 3, 4, 5, 6, 7, 89, TimeSpan.Zero),
            Service = service,
            Group = "grp",
            Instance = "echo-7d9f-0",
            Node = "node-a",
            Method = "POST",
            Path = path,
            Query = "debug=1",
            Status = status,
            LatencyMs = 12.345,
            TraceId = "4bf92f3577b34da6a3ce929d0e0e4736",
            SpanId = "00f067aa0ba902b7",
            Client = "127.0.0.1",
            Request = new CallRecordMessage
            {
                Headers = requestHeaders ?? [new("content-type", "application/json"), new("x-request-id", "r-1")],
                Body = Encoding.UTF8.GetBytes(requestBody),
            },
            Response = new CallRecordMessage
            {
                Headers = [new("content-type", "application/json")],
                Body = Encoding.UTF8.GetBytes(responseBody),
            },
        };
}

/// <summary>A directory under the system temp folder, removed with everything in it on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "eas-records-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}
