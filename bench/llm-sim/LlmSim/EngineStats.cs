using System.Globalization;
using System.Text;

namespace Eas.Node.LlmSim;

/// <summary>A Prometheus histogram (cumulative buckets rendered at scrape time).</summary>
public sealed class Histogram(double[] bounds)
{
    private readonly long[] _counts = new long[bounds.Length];

    public IReadOnlyList<double> Bounds => bounds;

    public long Count { get; private set; }

    public double Sum { get; private set; }

    public void Observe(double value)
    {
        Count++;
        Sum += value;
        var i = Array.BinarySearch(bounds, value);
        if (i < 0)
        {
            i = ~i;
        }

        if (i < _counts.Length)
        {
            _counts[i]++;
        }
    }

    internal void Render(StringBuilder sb, string name, string labels)
    {
        long cumulative = 0;
        for (var i = 0; i < bounds.Length; i++)
        {
            cumulative += _counts[i];
            sb.Append(name).Append("_bucket{").Append(labels).Append(",le=\"")
                .Append(bounds[i].ToString("R", CultureInfo.InvariantCulture)).Append("\"} ").Append(cumulative).Append('\n');
        }

        sb.Append(name).Append("_bucket{").Append(labels).Append(",le=\"+Inf\"} ").Append(Count).Append('\n');
        sb.Append(name).Append("_sum{").Append(labels).Append("} ").Append(Sum.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        sb.Append(name).Append("_count{").Append(labels).Append("} ").Append(Count).Append('\n');
    }
}

/// <summary>The engine's counters and histograms (vLLM's, see <see cref="PrometheusText"/>).</summary>
public sealed class EngineStats
{
    // vLLM's buckets.
    private static readonly double[] _ttftBuckets =
        [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];

    private static readonly double[] _tpotBuckets =
        [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0];

    private static readonly double[] _latencyBuckets =
        [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0];

    public long Arrived { get; set; }

    public long Finished { get; set; }

    public long Aborted { get; set; }

    public long Preemptions { get; set; }

    /// <summary>Prompt tokens of requests that got their first token (vLLM counts prompt tokens once per request).</summary>
    public long PromptTokens { get; set; }

    public long GenerationTokens { get; set; }

    /// <summary>Prompt tokens looked up in the prefix cache at admission (vllm:prefix_cache_queries).</summary>
    public long PrefixQueries { get; set; }

    /// <summary>Of those, tokens found cached (vllm:prefix_cache_hits).</summary>
    public long PrefixHits { get; set; }

    /// <summary>Tokens actually prefilled (cache misses and recomputation).</summary>
    public long PrefillTokensComputed { get; set; }

    public long Steps { get; set; }

    /// <summary>Total seconds the engine loop finished steps after their modelled end (timer lateness, CPU starvation).</summary>
    public double StepLateSeconds { get; set; }

    /// <summary>Rejected with 503 because the waiting queue was full (--max-waiting).</summary>
    public long Rejected { get; set; }

    public Histogram TimeToFirstToken { get; } = new(_ttftBuckets);

    public Histogram TimePerOutputToken { get; } = new(_tpotBuckets);

    public Histogram EndToEnd { get; } = new(_latencyBuckets);

    public Histogram QueueTime { get; } = new(_latencyBuckets);
}

/// <summary>Renders an engine's state in the Prometheus text format with vLLM's metric names.</summary>
public static class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>The /metrics body for <paramref name="core"/> (call under the engine lock).</summary>
    public static string Render(EngineCore core)
    {
        var c = core.Config;
        var s = core.Stats;
        var labels = $"model_name=\"{c.ModelName}\"";
        var sb = new StringBuilder(8192);
        Gauge(sb, "vllm:num_requests_running", "Number of requests in model execution batches.", labels, core.RunningCount);
        Gauge(sb, "vllm:num_requests_waiting", "Number of requests waiting to be processed.", labels, core.WaitingCount);
        Gauge(sb, "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", labels, core.Kv.Usage);
        Gauge(sb, "vllm:gpu_cache_usage_perc", "GPU KV-cache usage (V0 name). 1 means 100 percent usage.", labels, core.Kv.Usage);
        Counter(sb, "vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.", labels, s.PrefixQueries);
        Counter(sb, "vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.", labels, s.PrefixHits);
        Counter(sb, "vllm:prompt_tokens_total", "Number of prefill tokens processed.", labels, s.PromptTokens);
        Counter(sb, "vllm:generation_tokens_total", "Number of generation tokens processed.", labels, s.GenerationTokens);
        Counter(sb, "vllm:num_preemptions_total", "Cumulative number of preemption from the engine.", labels, s.Preemptions);
        sb.Append("# HELP vllm:request_success_total Count of successfully processed requests.\n# TYPE vllm:request_success_total counter\n");
        sb.Append("vllm:request_success_total{").Append(labels).Append(",finished_reason=\"length\"} ").Append(s.Finished).Append('\n');
        sb.Append("# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n# TYPE vllm:cache_config_info gauge\n");
        sb.Append("vllm:cache_config_info{block_size=\"").Append(c.BlockSize).Append("\",enable_prefix_caching=\"True\",num_gpu_blocks=\"")
            .Append(c.TotalBlocks).Append("\"} 1.0\n");
        Hist(sb, "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", labels, s.TimeToFirstToken);
        Hist(sb, "vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds.", labels, s.TimePerOutputToken);
        Hist(sb, "vllm:e2e_request_latency_seconds", "Histogram of end to end request latency in seconds.", labels, s.EndToEnd);
        Hist(sb, "vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", labels, s.QueueTime);

        // The simulator's own: is the box keeping up with the modelled time?
        Counter(sb, "llm_sim_steps_total", "Engine steps run.", labels, s.Steps);
        Counter(sb, "llm_sim_step_late_seconds_total", "Seconds by which steps ended after their modelled end, beyond the 5 ms the next step absorbs (CPU starvation shows here).", labels, s.StepLateSeconds);
        Counter(sb, "llm_sim_prefill_tokens_computed_total", "Prompt tokens actually prefilled (misses and recomputation).", labels, s.PrefillTokensComputed);
        Counter(sb, "llm_sim_requests_aborted_total", "Requests dropped because the client went away.", labels, s.Aborted);
        Counter(sb, "llm_sim_requests_rejected_total", "Requests answered 503 because the waiting queue was full.", labels, s.Rejected);
        Gauge(sb, "llm_sim_prefix_cache_blocks", "KV blocks registered in the prefix cache.", labels, core.Kv.CachedBlocks);
        Counter(sb, "llm_sim_prefix_cache_evictions_total", "Cached KV blocks evicted to make room.", labels, core.Kv.Evictions);
        return sb.ToString();
    }

    private static void Gauge(StringBuilder sb, string name, string help, string labels, double value)
    {
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        sb.Append("# TYPE ").Append(name).Append(" gauge\n");
        sb.Append(name).Append('{').Append(labels).Append("} ").Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
    }

    private static void Counter(StringBuilder sb, string name, string help, string labels, double value)
    {
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        sb.Append("# TYPE ").Append(name).Append(" counter\n");
        sb.Append(name).Append('{').Append(labels).Append("} ").Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
    }

    private static void Hist(StringBuilder sb, string name, string help, string labels, Histogram h)
    {
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        sb.Append("# TYPE ").Append(name).Append(" histogram\n");
        h.Render(sb, name, labels);
    }
}
