using System.Globalization;

namespace Eas.Node.LlmLoad;

/// <summary>Reads vLLM counters from replicas' Prometheus /metrics.</summary>
public static class ReplicaMetrics
{
    public const string Hits = "vllm:prefix_cache_hits_total";
    public const string Queries = "vllm:prefix_cache_queries_total";
    public const string Preemptions = "vllm:num_preemptions_total";

    /// <summary>Sums of every sample of each metric name in a Prometheus text body (labels ignored).</summary>
    public static Dictionary<string, double> Parse(string text)
    {
        var sums = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var nameEnd = line.IndexOfAny(['{', ' ']);
            if (nameEnd <= 0)
            {
                continue;
            }

            var name = line[..nameEnd];
            var valueStart = line[nameEnd] == '{' ? line.IndexOf('}', nameEnd) + 1 : nameEnd;
            if (valueStart <= 0)
            {
                continue;
            }

            var fields = line[valueStart..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 0 && double.TryParse(fields[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                sums[name] = sums.GetValueOrDefault(name) + value;
            }
        }

        return sums;
    }

    /// <summary>The /metrics URL for a replica base URL (kept when it already ends in /metrics).</summary>
    public static string MetricsUrl(string url) => url.TrimEnd('/').EndsWith("/metrics", StringComparison.Ordinal) ? url : url.TrimEnd('/') + "/metrics";

    /// <summary>Scrapes every URL (2 s timeout each); a failed one maps to null.</summary>
    public static async Task<Dictionary<string, double>?[]> ScrapeAsync(HttpClient http, IReadOnlyList<string> urls)
    {
        return await Task.WhenAll(urls.Select(async url =>
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                var text = await http.GetStringAsync(new Uri(MetricsUrl(url)), cts.Token);
                return Parse(text);
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                return null;
            }
        }));
    }

    /// <summary>Per-replica and total hit rate between two scrapes.</summary>
    public static (IReadOnlyList<ReplicaCache> Caches, double? HitRate) Delta(IReadOnlyList<string> urls, Dictionary<string, double>?[] before, Dictionary<string, double>?[] after)
    {
        var caches = new List<ReplicaCache>();
        double hits = 0, queries = 0;
        for (var i = 0; i < urls.Count; i++)
        {
            if (before[i] is not { } b || after[i] is not { } a)
            {
                caches.Add(new ReplicaCache(urls[i], null, null, null, null, before[i] is null ? "no /metrics at the window's start" : "no /metrics at the end"));
                continue;
            }

            var h = a.GetValueOrDefault(Hits) - b.GetValueOrDefault(Hits);
            var q = a.GetValueOrDefault(Queries) - b.GetValueOrDefault(Queries);
            var p = a.GetValueOrDefault(Preemptions) - b.GetValueOrDefault(Preemptions);
            hits += h;
            queries += q;
            caches.Add(new ReplicaCache(urls[i], h, q, q > 0 ? Stats.Round(h / q) : null, p, null));
        }

        return (caches, queries > 0 ? Stats.Round(hits / queries) : null);
    }
}

/// <summary>CPU use from /proc/stat (whole machine) and this process's CPU time.</summary>
public sealed class CpuSampler
{
    private (long Busy, long Total)? _machine;
    private TimeSpan _process;
    private double _wall;

    public void Start(double now)
    {
        _machine = ReadMachine();
        _process = Environment.CpuUsage.TotalTime;
        _wall = now;
    }

    /// <summary>(machine busy fraction of all CPUs, this process in cores) since <see cref="Start"/>.</summary>
    public (double? Machine, double? Generator) Stop(double now)
    {
        var wall = now - _wall;
        double? generator = wall > 0 ? Stats.Round((Environment.CpuUsage.TotalTime - _process).TotalSeconds / wall) : null;
        var end = ReadMachine();
        double? machine = _machine is { } a && end is { } b && b.Total > a.Total ? Stats.Round((double)(b.Busy - a.Busy) / (b.Total - a.Total)) : null;
        return (machine, generator);
    }

    private static (long Busy, long Total)? ReadMachine()
    {
        try
        {
            var line = File.ReadLines("/proc/stat").First();
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            var total = f.Take(8).Sum();
            var idle = f[3] + (f.Length > 4 ? f[4] : 0);
            return (total - idle, total);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }
}
