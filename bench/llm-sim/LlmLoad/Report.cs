using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Eas.Node.LlmLoad;

/// <summary>Percentiles and the like over samples.</summary>
public static class Stats
{
    /// <summary>Linear-interpolated percentile (numpy's default) of <paramref name="sorted"/>; NaN when empty.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double p)
    {
        if (sorted.Count == 0)
        {
            return double.NaN;
        }

        var rank = p / 100.0 * (sorted.Count - 1);
        var lo = (int)Math.Floor(rank);
        var hi = Math.Min(lo + 1, sorted.Count - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }

    public static Summary Summarize(IEnumerable<double> samples, double scale = 1)
    {
        var sorted = samples.Select(s => s * scale).Order().ToList();
        if (sorted.Count == 0)
        {
            return new Summary(0, null, null, null, null, null);
        }

        return new Summary(sorted.Count, Round(Percentile(sorted, 50)), Round(Percentile(sorted, 90)), Round(Percentile(sorted, 99)),
            Round(sorted.Average()), Round(sorted[^1]));
    }

    public static double Round(double v) => Math.Round(v, 3);
}

/// <summary>A distribution's summary (milliseconds where it is a time).</summary>
public sealed record Summary(int Count, double? P50, double? P90, double? P99, double? Mean, double? Max);

/// <summary>Per-replica prefix-cache counters over the measured window.</summary>
public sealed record ReplicaCache(string Url, double? Hits, double? Queries, double? HitRate, double? Preemptions, string? Error);

/// <summary>The run's report (printed, and written with --json).</summary>
public sealed record LoadReport
{
    public string? Label { get; init; }

    public required string Workload { get; init; }

    public required string Api { get; init; }

    public required IReadOnlyList<string> Urls { get; init; }

    public required string ClientLb { get; init; }

    public double Rate { get; init; }

    public double? Duration { get; init; }

    public int Seed { get; init; }

    public int Prefixes { get; init; }

    public int PrefixTokens { get; init; }

    public int SuffixTokens { get; init; }

    public int OutputTokens { get; init; }

    /// <summary>--prewarm: seconds it took and requests that failed (null without --prewarm).</summary>
    public double? PrewarmSeconds { get; init; }

    public int? PrewarmFailed { get; init; }

    public int RequestsSent { get; init; }

    public int WarmupDropped { get; init; }

    public int RequestsMeasured { get; init; }

    public int Completed { get; init; }

    public int ErrorCount { get; init; }

    /// <summary>By HTTP status, or connect_error, timeout, stream_broken, unfinished (cut at the end of the drain).</summary>
    public required IReadOnlyDictionary<string, int> Errors { get; init; }

    public string? ErrorSample { get; init; }

    public required Summary TtftMs { get; init; }

    public required Summary TpotMs { get; init; }

    public required Summary ItlMs { get; init; }

    public required Summary E2eMs { get; init; }

    /// <summary>Seconds from the first measured send to the end of the arrivals.</summary>
    public double WindowSeconds { get; init; }

    /// <summary>Output tokens received during the window, per second (all requests, warm-up ones too).</summary>
    public double OutputTokensPerSecond { get; init; }

    /// <summary>Requests completed during the window, per second.</summary>
    public double RequestsPerSecond { get; init; }

    /// <summary>Measured requests' output tokens over first measured send → last measured end (includes the drain).</summary>
    public double OutputTokensPerSecondWithDrain { get; init; }

    /// <summary>Measured, completed requests per replica (x-llm-sim-replica header, else "replica" in the JSON, else the URL).</summary>
    public required IReadOnlyDictionary<string, int> ReplicaShare { get; init; }

    /// <summary>Most / fewest requests per replica; null when a replica expected (--url / --replica-metrics count) served none.</summary>
    public double? ShareMaxOverMin { get; init; }

    /// <summary>Replicas that served measured requests, and how many were expected (the larger of the --url and --replica-metrics counts).</summary>
    public int ReplicasSeen { get; init; }

    public int ReplicasExpected { get; init; }

    public double? ShareCov { get; init; }

    /// <summary>Δhits / Δqueries summed over --replica-metrics during the window.</summary>
    public double? PrefixCacheHitRate { get; init; }

    public IReadOnlyList<ReplicaCache>? PrefixCacheByReplica { get; init; }

    /// <summary>Σ cached_tokens / Σ prompt_tokens from the measured responses' usage.</summary>
    public double? ClientCachedTokenRate { get; init; }

    /// <summary>How late the generator sent requests versus their Poisson schedule (ms).</summary>
    public required Summary SendLatenessMs { get; init; }

    /// <summary>Busy fraction of all CPUs during the window (/proc/stat), and of this process.</summary>
    public double? MachineCpuBusy { get; init; }

    public double? GeneratorCpu { get; init; }

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>A human-readable summary.</summary>
    public string ToText()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(c, $"{Label ?? "run"}: {Workload} ({Api}), {Rate} req/s, lb {ClientLb} over {Urls.Count} url(s)\n");
        sb.Append(c, $"  requests: sent {RequestsSent}, warm-up dropped {WarmupDropped}, measured {RequestsMeasured}, ok {Completed}, errors {ErrorCount}");
        if (Errors.Count > 0)
        {
            sb.Append(" (").Append(string.Join(", ", Errors.Select(e => $"{e.Key}: {e.Value}"))).Append(')');
        }

        sb.Append('\n');
        if (ErrorSample is not null)
        {
            sb.Append("  first error: ").Append(ErrorSample).Append('\n');
        }

        sb.Append(c, $"  TTFT ms   p50 {F(TtftMs.P50)}  p90 {F(TtftMs.P90)}  p99 {F(TtftMs.P99)}  mean {F(TtftMs.Mean)}\n");
        sb.Append(c, $"  TPOT ms   p50 {F(TpotMs.P50)}  p90 {F(TpotMs.P90)}  p99 {F(TpotMs.P99)}\n");
        sb.Append(c, $"  ITL ms    p50 {F(ItlMs.P50)}  p99 {F(ItlMs.P99)}\n");
        sb.Append(c, $"  E2E ms    p50 {F(E2eMs.P50)}  p90 {F(E2eMs.P90)}  p99 {F(E2eMs.P99)}\n");
        sb.Append(c, $"  throughput over {WindowSeconds:F1} s: {OutputTokensPerSecond:F1} output tok/s, {RequestsPerSecond:F2} req/s (with drain: {OutputTokensPerSecondWithDrain:F1} tok/s)\n");
        sb.Append("  share: ").Append(string.Join(", ", ReplicaShare.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {kv.Value}")));
        sb.Append(c, $"  (max/min {(ShareMaxOverMin is null && ReplicaShare.Count > 0 ? "inf" : F(ShareMaxOverMin))}, cov {F(ShareCov)}, {ReplicasSeen} of {ReplicasExpected} replicas)\n");
        sb.Append(c, $"  prefix cache hit rate: {F(PrefixCacheHitRate)} (replica metrics), {F(ClientCachedTokenRate)} (usage.cached_tokens)\n");
        sb.Append(c, $"  send lateness ms p50 {F(SendLatenessMs.P50)} p99 {F(SendLatenessMs.P99)} max {F(SendLatenessMs.Max)}; CPU busy {F(MachineCpuBusy)} (machine), {F(GeneratorCpu)} (generator, of one core)\n");
        return sb.ToString();
    }

    private static string F(double? v) => v is null || double.IsNaN(v.Value) ? "-" : v.Value.ToString(v.Value >= 100 ? "F0" : "F3", CultureInfo.InvariantCulture);
}

/// <summary>Builds a <see cref="LoadReport"/> from a finished run.</summary>
public static class ReportBuilder
{
    public static LoadReport Build(LoadOptions o, LoadRunner run, (IReadOnlyList<ReplicaCache>? Caches, double? HitRate) cache, (double? Machine, double? Generator) cpu)
    {
        var records = run.Records.ToList();
        var measured = records.Where(r => r.Measured).ToList();
        var ok = measured.Where(r => r.Ok && r.FirstChunk is not null && r.End is not null).ToList();
        var errors = measured.Where(r => !r.Ok).GroupBy(r => r.Error!).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var firstError = measured.FirstOrDefault(r => !r.Ok);

        var share = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var r in ok)
        {
            var key = r.Replica ?? o.Urls[r.Target];
            share[key] = share.GetValueOrDefault(key) + 1;
        }

        // Replicas that served nothing count as zeros: max/min is then unbounded (null) and the CoV includes them.
        var expected = Math.Max(o.Urls.Count, o.ReplicaMetrics.Count);
        double? maxMin = null;
        double? cov = null;
        if (share.Count > 0)
        {
            var counts = share.Values.Select(v => (double)v).Concat(Enumerable.Repeat(0.0, Math.Max(0, expected - share.Count))).ToList();
            maxMin = counts.Min() > 0 ? Stats.Round(counts.Max() / counts.Min()) : null;
            var mean = counts.Average();
            cov = Stats.Round(Math.Sqrt(counts.Sum(x => (x - mean) * (x - mean)) / counts.Count) / mean);
        }

        var windowSeconds = run.WindowEnd - run.WindowStart;
        var lastEnd = ok.Count > 0 ? ok.Max(r => r.End!.Value) : run.WindowEnd;
        var withDrain = lastEnd > run.WindowStart ? ok.Sum(r => (double)r.OutputTokens) / (lastEnd - run.WindowStart) : 0;
        var prompt = ok.Where(r => r.PromptTokens is not null && r.CachedTokens is not null).ToList();
        double? clientCached = prompt.Count > 0 ? Stats.Round(prompt.Sum(r => (double)r.CachedTokens!.Value) / Math.Max(1, prompt.Sum(r => (double)r.PromptTokens!.Value))) : null;

        return new LoadReport
        {
            Label = o.Label,
            Workload = o.Workload,
            Api = o.Chat ? "chat" : "completions",
            Urls = o.Urls,
            ClientLb = o.ClientLb,
            Rate = o.Rate,
            Duration = o.Duration,
            Seed = o.Seed,
            Prefixes = o.Prefixes,
            PrefixTokens = o.PrefixTokens,
            SuffixTokens = o.SuffixTokens,
            OutputTokens = o.OutputTokens,
            PrewarmSeconds = o.Prewarm ? Stats.Round(run.PrewarmSeconds) : null,
            PrewarmFailed = o.Prewarm ? run.PrewarmFailed : null,
            RequestsSent = records.Count,
            WarmupDropped = records.Count - measured.Count,
            RequestsMeasured = measured.Count,
            Completed = ok.Count,
            ErrorCount = measured.Count - ok.Count,
            Errors = errors,
            ErrorSample = firstError is null ? null : $"{firstError.Error}: {firstError.ErrorDetail}",
            TtftMs = Stats.Summarize(ok.Select(r => r.FirstChunk!.Value - r.Sent), 1000),
            TpotMs = Stats.Summarize(ok.Where(r => r.OutputTokens > 1).Select(r => (r.End!.Value - r.FirstChunk!.Value) / (r.OutputTokens - 1)), 1000),
            ItlMs = Stats.Summarize(ok.SelectMany(r => r.Gaps), 1000),
            E2eMs = Stats.Summarize(ok.Select(r => r.End!.Value - r.Sent), 1000),
            WindowSeconds = Stats.Round(Math.Max(0, windowSeconds)),
            OutputTokensPerSecond = windowSeconds > 0 ? Stats.Round(run.WindowTokens / windowSeconds) : 0,
            RequestsPerSecond = windowSeconds > 0 ? Stats.Round(run.WindowCompleted / windowSeconds) : 0,
            OutputTokensPerSecondWithDrain = Stats.Round(withDrain),
            ReplicaShare = share,
            ShareMaxOverMin = maxMin,
            ReplicasSeen = share.Count,
            ReplicasExpected = expected,
            ShareCov = cov,
            PrefixCacheHitRate = cache.HitRate,
            PrefixCacheByReplica = cache.Caches,
            ClientCachedTokenRate = clientCached,
            SendLatenessMs = Stats.Summarize(run.SendLateness, 1000),
            MachineCpuBusy = cpu.Machine,
            GeneratorCpu = cpu.Generator,
        };
    }
}
