using System.Globalization;

namespace Eas.Node.Gateway.Llm;

/// <summary>
/// Settings of LLM-aware routing (configuration section <c>Gateway:Llm</c>): prefix index, cost weights, load guard,
/// saturation thresholds, engine-metrics scraping, session affinity, wait queue and fallback. Every duration is in
/// milliseconds. <see cref="Validate"/> names the key, the rule and the fix of each bad value; <see cref="TrySet"/>
/// applies one <c>Gateway:Llm:Key=value</c> setting from a configuration source.
/// </summary>
public sealed class LlmRoutingOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string SectionName = "Gateway:Llm";

    /// <summary>Largest <see cref="BlockBytes"/>: one block is staged on the stack while it is hashed.</summary>
    public const int MaxBlockBytes = 1024;

    /// <summary>
    /// Bytes of canonical prompt text per hashed block (the index's unit of a cached prefix). 64 bytes ≈ 16 tokens,
    /// vLLM's default block size. From 16 to 1024.
    /// </summary>
    public int BlockBytes { get; set; } = 64;

    /// <summary>
    /// Most blocks hashed per request (the first <c>MaxPromptBlocks × BlockBytes</c> bytes of the prompt; the rest
    /// counts as uncached everywhere). From 1 to 65536; default 1024 (64 KiB of prompt).
    /// </summary>
    public int MaxPromptBlocks { get; set; } = 1024;

    /// <summary>Average bytes of prompt text per token, to turn bytes into token estimates. From 0.5 to 64.</summary>
    public double BytesPerToken { get; set; } = 4;

    /// <summary>
    /// Blocks remembered per replica (its approximate KV cache, LRU). Default 16384 blocks (1 MiB of prompt text).
    /// When <see cref="PrefixCapacityFromMetrics"/> is on and the engine reports its cache size, that wins.
    /// </summary>
    public int PrefixCapacityBlocks { get; set; } = 16384;

    /// <summary>
    /// Size each replica's index from the engine's <c>vllm:cache_config_info{block_size,num_gpu_blocks}</c> (or
    /// SGLang's <c>page_size,num_pages</c>) when the scrape finds it.
    /// </summary>
    public bool PrefixCapacityFromMetrics { get; set; } = true;

    /// <summary>Cost of one uncached prompt token on a replica (the prefill the request would add there).</summary>
    public double UncachedTokenWeight { get; set; } = 1.0;

    /// <summary>Cost of one token of prefill already pending on a replica (requests routed there, not yet at first byte).</summary>
    public double PendingPrefillWeight { get; set; } = 0.25;

    /// <summary>Cost, in tokens, of one request in flight on a replica (its decode share).</summary>
    public double InFlightWeight { get; set; } = 64;

    /// <summary>Cost, in tokens, of one request the engine reports waiting (fresh scrape only; covers load from other gateways).</summary>
    public double EngineWaitingWeight { get; set; } = 64;

    /// <summary>
    /// Load guard: a replica takes a request only while its in-flight count is at most
    /// <c>max((1 + LoadTolerance) × mean, mean + LoadSlack)</c> over the usable replicas, so a hot prefix spreads
    /// instead of piling onto one replica. From 0 to 10.
    /// </summary>
    public double LoadTolerance { get; set; } = 0.3;

    /// <summary>Absolute slack of the load guard (requests), so small counts do not flap. From 0 to 1000.</summary>
    public double LoadSlack { get; set; } = 4;

    /// <summary>
    /// Hot-prefix replication: a prompt prefix that at least <c>HotPrefixShare ÷ replicas</c> of the recent requests
    /// start with (1 = more than one replica's fair share) is not held against replicas that lack it, so it spreads to
    /// every replica and load decides (no hot spot from a system prompt everyone shares). 0 turns it off. From 0 to 64.
    /// </summary>
    public double HotPrefixShare { get; set; } = 1;

    /// <summary>A replica whose engine reports this many waiting requests (or more) is saturated. From 1 to 100000.</summary>
    public int WaitingThreshold { get; set; } = 8;

    /// <summary>A replica whose engine reports this KV-cache usage (0-1) or more is saturated. Above 0, at most 1.</summary>
    public double KvUsageThreshold { get; set; } = 0.95;

    /// <summary>A replica with this many of the gateway's requests in flight is saturated; 0 = no gateway-side cap.</summary>
    public int MaxInFlightPerReplica { get; set; }

    /// <summary>Path of the engine's Prometheus endpoint on each replica's address.</summary>
    public string MetricsPath { get; set; } = "/metrics";

    /// <summary>How often each replica's metrics are scraped; 0 turns scraping off (gateway-side counts only).</summary>
    public int ScrapeIntervalMs { get; set; } = 500;

    /// <summary>Timeout of one scrape; a replica that does not answer in time keeps gateway-side counts only.</summary>
    public int ScrapeTimeoutMs { get; set; } = 400;

    /// <summary>Engine metrics older than this are ignored (the replica is judged by gateway-side counts only).</summary>
    public int MetricsStaleAfterMs { get; set; } = 2000;

    /// <summary>
    /// A replica that refused a connection (scrape or request) takes no new requests for this long, or until a scrape
    /// succeeds again; while every replica is down they are all tried.
    /// </summary>
    public int DownHoldMs { get; set; } = 2000;

    /// <summary>Request header whose value binds a session to a replica; empty turns session affinity off.</summary>
    public string SessionHeader { get; set; } = "";

    /// <summary>How long an unused session binding is kept.</summary>
    public int SessionTtlMs { get; set; } = 1_800_000;

    /// <summary>Most session bindings kept per service; the oldest go first.</summary>
    public int SessionCapacity { get; set; } = 100_000;

    /// <summary>
    /// Soft session affinity: the bound replica is kept while its in-flight count is at most
    /// <c>max(SessionLoadFactor × mean, mean + LoadSlack)</c>. At least 1.
    /// </summary>
    public double SessionLoadFactor { get; set; } = 1.5;

    /// <summary>Requests that may wait while every replica is saturated, per service; one more gets 429. 0 = no queue.</summary>
    public int QueueCapacity { get; set; } = 256;

    /// <summary>Longest wait in the queue; then 503 with <c>Retry-After</c>.</summary>
    public int QueueTimeoutMs { get; set; } = 30_000;

    /// <summary>The <c>Retry-After</c> seconds sent with a 429 (queue full) or 503 (queue timeout).</summary>
    public int RetryAfterSeconds { get; set; } = 2;

    /// <summary>Most retries of one request on other replicas (only before its first response byte).</summary>
    public int MaxRetries { get; set; } = 2;

    /// <summary>A decision that takes longer than this uses least-requests instead (counted as a fallback).</summary>
    public double DecisionBudgetMs { get; set; } = 2;

    /// <summary>State of a replica (index, counters) dropped from every route this long ago is freed.</summary>
    public int PruneAfterMs { get; set; } = 60_000;

    /// <summary>The keys <see cref="TrySet"/> accepts, without the section prefix.</summary>
    public static IReadOnlyList<string> Keys { get; } =
    [
        nameof(BlockBytes), nameof(MaxPromptBlocks), nameof(BytesPerToken), nameof(PrefixCapacityBlocks),
        nameof(PrefixCapacityFromMetrics), nameof(UncachedTokenWeight), nameof(PendingPrefillWeight), nameof(InFlightWeight),
        nameof(EngineWaitingWeight), nameof(LoadTolerance), nameof(LoadSlack), nameof(HotPrefixShare), nameof(WaitingThreshold), nameof(KvUsageThreshold),
        nameof(MaxInFlightPerReplica), nameof(MetricsPath), nameof(ScrapeIntervalMs), nameof(ScrapeTimeoutMs),
        nameof(MetricsStaleAfterMs), nameof(DownHoldMs), nameof(SessionHeader), nameof(SessionTtlMs), nameof(SessionCapacity),
        nameof(SessionLoadFactor), nameof(QueueCapacity), nameof(QueueTimeoutMs), nameof(RetryAfterSeconds), nameof(MaxRetries),
        nameof(DecisionBudgetMs), nameof(PruneAfterMs),
    ];

    /// <summary>
    /// Applies one setting by its key (<c>BlockBytes</c> or <c>Gateway:Llm:BlockBytes</c>, any case). Returns false
    /// with a message naming the key, the rule and the fix when the key is unknown or the value does not parse; ranges
    /// are checked by <see cref="Validate"/>.
    /// </summary>
    public bool TrySet(string key, string value, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        problem = null;
        var name = key.StartsWith(SectionName + ":", StringComparison.OrdinalIgnoreCase) ? key[(SectionName.Length + 1)..] : key;
        var known = Keys.FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));
        if (known is null)
        {
            problem = $"key '{SectionName}:{name}' is not known; LLM routing reads only {string.Join(", ", Keys.Select(k => SectionName + ":" + k))}; fix: remove the key or correct its spelling.";
            return false;
        }

        switch (known)
        {
            case nameof(MetricsPath):
                MetricsPath = value;
                return true;
            case nameof(SessionHeader):
                SessionHeader = value;
                return true;
            case nameof(PrefixCapacityFromMetrics):
                if (bool.TryParse(value, out var flag))
                {
                    PrefixCapacityFromMetrics = flag;
                    return true;
                }

                problem = $"key '{SectionName}:{known}' has value '{value}', which is not true or false; fix: set true or false.";
                return false;
            case nameof(BytesPerToken) or nameof(UncachedTokenWeight) or nameof(PendingPrefillWeight) or nameof(InFlightWeight)
                or nameof(EngineWaitingWeight) or nameof(LoadTolerance) or nameof(LoadSlack) or nameof(HotPrefixShare) or nameof(KvUsageThreshold)
                or nameof(SessionLoadFactor) or nameof(DecisionBudgetMs):
                if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) || !double.IsFinite(number))
                {
                    problem = $"key '{SectionName}:{known}' has value '{value}', which is not a number; fix: write a decimal number such as 0.5.";
                    return false;
                }

                SetDouble(known, number);
                return true;
            default:
                if (!int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole))
                {
                    problem = $"key '{SectionName}:{known}' has value '{value}', which is not a whole number; fix: write a whole number such as {WholeExample(known)}.";
                    return false;
                }

                SetInt(known, whole);
                return true;
        }
    }

    /// <summary>
    /// Checks every option and returns one message per problem, each naming the key, the rule and the fix; an empty
    /// list means the options are usable.
    /// </summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        CheckInt(problems, nameof(BlockBytes), BlockBytes, 16, MaxBlockBytes, "64 (about 16 tokens)");
        CheckInt(problems, nameof(MaxPromptBlocks), MaxPromptBlocks, 1, 65536, "1024");
        CheckDouble(problems, nameof(BytesPerToken), BytesPerToken, 0.5, 64, "4");
        CheckInt(problems, nameof(PrefixCapacityBlocks), PrefixCapacityBlocks, 1, 1 << 24, "16384");
        CheckDouble(problems, nameof(UncachedTokenWeight), UncachedTokenWeight, 0, 1e6, "1");
        CheckDouble(problems, nameof(PendingPrefillWeight), PendingPrefillWeight, 0, 1e6, "0.25");
        CheckDouble(problems, nameof(InFlightWeight), InFlightWeight, 0, 1e9, "64");
        CheckDouble(problems, nameof(EngineWaitingWeight), EngineWaitingWeight, 0, 1e9, "64");
        CheckDouble(problems, nameof(LoadTolerance), LoadTolerance, 0, 10, "0.3");
        CheckDouble(problems, nameof(LoadSlack), LoadSlack, 0, 1000, "4");
        CheckDouble(problems, nameof(HotPrefixShare), HotPrefixShare, 0, 64, "1 (0 turns hot-prefix replication off)");
        CheckInt(problems, nameof(WaitingThreshold), WaitingThreshold, 1, 100_000, "8");
        if (!(KvUsageThreshold > 0 && KvUsageThreshold <= 1))
        {
            problems.Add(Message(nameof(KvUsageThreshold), KvUsageThreshold, "must be above 0 and at most 1 (a fraction of the KV cache)", "0.95"));
        }

        CheckInt(problems, nameof(MaxInFlightPerReplica), MaxInFlightPerReplica, 0, 1_000_000, "0 (no cap) or 64");
        if (string.IsNullOrEmpty(MetricsPath) || MetricsPath[0] != '/' || MetricsPath.Any(char.IsWhiteSpace))
        {
            problems.Add($"{SectionName}:{nameof(MetricsPath)} '{MetricsPath}' is not valid: it must be an absolute path starting with '/' and without spaces; fix: set for example \"/metrics\".");
        }

        CheckInt(problems, nameof(ScrapeIntervalMs), ScrapeIntervalMs, 0, 3_600_000, "500 (0 turns scraping off)");
        if (ScrapeIntervalMs > 0)
        {
            CheckInt(problems, nameof(ScrapeTimeoutMs), ScrapeTimeoutMs, 1, 60_000, "400");
            if (MetricsStaleAfterMs < ScrapeIntervalMs)
            {
                problems.Add(Message(nameof(MetricsStaleAfterMs), MetricsStaleAfterMs, $"must be at least {SectionName}:{nameof(ScrapeIntervalMs)} ({ScrapeIntervalMs}), or every scrape would count as stale", "four times the interval, e.g. 2000"));
            }
        }

        CheckInt(problems, nameof(DownHoldMs), DownHoldMs, 0, 3_600_000, "2000");
        if (SessionHeader.Length > 0 && !SessionHeader.All(IsTokenChar))
        {
            problems.Add($"{SectionName}:{nameof(SessionHeader)} '{SessionHeader}' is not valid: it must be an HTTP header name (letters, digits, '-', '_'); fix: set for example \"X-Session-Id\", or \"\" to turn session affinity off.");
        }

        CheckInt(problems, nameof(SessionTtlMs), SessionTtlMs, 1, int.MaxValue, "1800000 (30 minutes)");
        CheckInt(problems, nameof(SessionCapacity), SessionCapacity, 1, 10_000_000, "100000");
        CheckDouble(problems, nameof(SessionLoadFactor), SessionLoadFactor, 1, 100, "1.5");
        CheckInt(problems, nameof(QueueCapacity), QueueCapacity, 0, 1_000_000, "256 (0: answer 429 at once when every replica is saturated)");
        CheckInt(problems, nameof(QueueTimeoutMs), QueueTimeoutMs, 1, 3_600_000, "30000");
        CheckInt(problems, nameof(RetryAfterSeconds), RetryAfterSeconds, 0, 86_400, "2");
        CheckInt(problems, nameof(MaxRetries), MaxRetries, 0, 16, "2");
        CheckDouble(problems, nameof(DecisionBudgetMs), DecisionBudgetMs, 0.01, 10_000, "2");
        CheckInt(problems, nameof(PruneAfterMs), PruneAfterMs, 0, int.MaxValue, "60000");
        return problems;
    }

    private static bool IsTokenChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_';

    private static string WholeExample(string key) => key switch
    {
        nameof(BlockBytes) => "64",
        nameof(ScrapeIntervalMs) => "500",
        _ => "8",
    };

    private static void CheckInt(List<string> problems, string key, int value, int min, int max, string example)
    {
        if (value < min || value > max)
        {
            problems.Add(Message(key, value, string.Create(CultureInfo.InvariantCulture, $"must be from {min} to {max}"), example));
        }
    }

    private static void CheckDouble(List<string> problems, string key, double value, double min, double max, string example)
    {
        if (!double.IsFinite(value) || value < min || value > max)
        {
            problems.Add(Message(key, value, string.Create(CultureInfo.InvariantCulture, $"must be a number from {min} to {max}"), example));
        }
    }

    private static string Message(string key, double value, string rule, string example) =>
        string.Create(CultureInfo.InvariantCulture, $"{SectionName}:{key} {value} is out of range: it {rule}; fix: set for example {example}, or leave the key out for the default.");

    private void SetDouble(string key, double value)
    {
        switch (key)
        {
            case nameof(BytesPerToken): BytesPerToken = value; break;
            case nameof(UncachedTokenWeight): UncachedTokenWeight = value; break;
            case nameof(PendingPrefillWeight): PendingPrefillWeight = value; break;
            case nameof(InFlightWeight): InFlightWeight = value; break;
            case nameof(EngineWaitingWeight): EngineWaitingWeight = value; break;
            case nameof(LoadTolerance): LoadTolerance = value; break;
            case nameof(LoadSlack): LoadSlack = value; break;
            case nameof(HotPrefixShare): HotPrefixShare = value; break;
            case nameof(KvUsageThreshold): KvUsageThreshold = value; break;
            case nameof(SessionLoadFactor): SessionLoadFactor = value; break;
            case nameof(DecisionBudgetMs): DecisionBudgetMs = value; break;
            default: break;
        }
    }

    private void SetInt(string key, int value)
    {
        switch (key)
        {
            case nameof(BlockBytes): BlockBytes = value; break;
            case nameof(MaxPromptBlocks): MaxPromptBlocks = value; break;
            case nameof(PrefixCapacityBlocks): PrefixCapacityBlocks = value; break;
            case nameof(WaitingThreshold): WaitingThreshold = value; break;
            case nameof(MaxInFlightPerReplica): MaxInFlightPerReplica = value; break;
            case nameof(ScrapeIntervalMs): ScrapeIntervalMs = value; break;
            case nameof(ScrapeTimeoutMs): ScrapeTimeoutMs = value; break;
            case nameof(MetricsStaleAfterMs): MetricsStaleAfterMs = value; break;
            case nameof(DownHoldMs): DownHoldMs = value; break;
            case nameof(SessionTtlMs): SessionTtlMs = value; break;
            case nameof(SessionCapacity): SessionCapacity = value; break;
            case nameof(QueueCapacity): QueueCapacity = value; break;
            case nameof(QueueTimeoutMs): QueueTimeoutMs = value; break;
            case nameof(RetryAfterSeconds): RetryAfterSeconds = value; break;
            case nameof(MaxRetries): MaxRetries = value; break;
            case nameof(PruneAfterMs): PruneAfterMs = value; break;
            default: break;
        }
    }
}
