using System.Text;
using System.Text.Json;
using Eas.Node.Gateway.Llm;
using Prometheus;

namespace Eas.Node.Gateway.Tests.Llm;

/// <summary>Request bodies, replica lists and routers for the LLM routing tests.</summary>
internal static class LlmTestData
{
    /// <summary>Words that make long prompts read like text; the seed picks a deterministic sequence.</summary>
    private static readonly string[] _words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"];

    /// <summary>About <paramref name="bytes"/> bytes of words, different for each seed.</summary>
    public static string Text(int seed, int bytes)
    {
        var builder = new StringBuilder(bytes + 16);
        var state = (uint)seed * 2654435761u + 1;
        while (builder.Length < bytes)
        {
            state = (state * 1103515245) + 12345;
            builder.Append(_words[(state >> 16) % (uint)_words.Length]).Append(' ');
        }

        return builder.ToString(0, bytes);
    }

    public static byte[] Completion(string prompt, string model = "m", bool stream = false, int? maxTokens = null)
    {
        var body = new Dictionary<string, object?> { ["model"] = model, ["prompt"] = prompt, ["stream"] = stream };
        if (maxTokens is not null)
        {
            body["max_tokens"] = maxTokens;
        }

        return JsonSerializer.SerializeToUtf8Bytes(body);
    }

    public static byte[] Chat(string system, string user, string model = "m", bool stream = true) =>
        JsonSerializer.SerializeToUtf8Bytes(new
        {
            model,
            messages = new object[] { new { role = "system", content = system }, new { role = "user", content = user } },
            stream,
        });

    public static LlmReplica[] Replicas(int count, string prefix = "r") =>
        [.. Enumerable.Range(0, count).Select(i => new LlmReplica($"{prefix}{i}", $"127.0.0.1:{20000 + i}", tag: i))];

    /// <summary>
    /// Options for tests that need no engine: scraping off, and a decision budget no busy test machine runs past (the
    /// fallback tests set their own); everything else at its default unless changed.
    /// </summary>
    public static LlmRoutingOptions Options(Action<LlmRoutingOptions>? change = null)
    {
        var options = new LlmRoutingOptions { ScrapeIntervalMs = 0, DecisionBudgetMs = 10_000 };
        change?.Invoke(options);
        return options;
    }

    public static LlmRouter Router(LlmRoutingOptions options, out CollectorRegistry registry, TimeProvider? time = null)
    {
        registry = Prometheus.Metrics.NewCustomRegistry();
        return new LlmRouter(options, registry, timeProvider: time);
    }

    public static async Task<Dictionary<string, double>> ScrapeAsync(CollectorRegistry registry)
    {
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream);
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in Encoding.UTF8.GetString(stream.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!line.StartsWith('#'))
            {
                var space = line.LastIndexOf(' ');
                samples[line[..space]] = double.Parse(line[(space + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return samples;
    }

    public static double Sample(this Dictionary<string, double> samples, string series) =>
        samples.TryGetValue(series, out var value) ? value : throw new Xunit.Sdk.XunitException($"series {series} is not in the scrape: {string.Join(", ", samples.Keys.Where(k => k.Contains("llm", StringComparison.Ordinal)))}");
}
