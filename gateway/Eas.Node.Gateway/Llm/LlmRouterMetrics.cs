using Eas.Node.Gateway.Metrics;
using Prometheus;

namespace Eas.Node.Gateway.Llm;

/// <summary>
/// Prometheus metrics of LLM routing, in the registry the gateway passes in. Label children are resolved once per
/// service, so recording a decision is a few interlocked operations.
/// </summary>
internal sealed class LlmRouterMetrics
{
    /// <summary>Decision time buckets in seconds: 5 µs to 10 ms.</summary>
    internal static readonly double[] DecisionBuckets = [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01];

    /// <summary>Queue wait buckets in seconds: 10 ms to 60 s.</summary>
    internal static readonly double[] WaitBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly Counter _decisions;
    private readonly Counter _promptBlocks;
    private readonly Counter _hitBlocks;
    private readonly Gauge _queueDepth;
    private readonly Histogram _queueWait;
    private readonly Counter _fallbacks;
    private readonly Counter _retries;
    private readonly Histogram _decisionSeconds;
    private readonly Gauge _replicaInFlight;
    private readonly Gauge _replicaPendingTokens;
    private readonly HashSet<(string Service, string Instance)> _published = [];

    public LlmRouterMetrics(CollectorRegistry registry)
    {
        var factory = GatewayMetrics.FactoryFor(registry);
        _decisions = factory.CreateCounter(
            "eas_gateway_llm_decisions_total",
            "LLM routing decisions by service and outcome: prefix (longest cached prefix), load (least work), session (session affinity), fallback (least-requests after a failed or slow decision), queue_full (429), queue_timeout (503), no_replica (503).",
            ["service", "outcome"]);
        _promptBlocks = factory.CreateCounter(
            "eas_gateway_llm_prompt_blocks_total",
            "Prompt blocks hashed for routing, by service (hit rate = eas_gateway_llm_prefix_hit_blocks_total / this).",
            ["service"]);
        _hitBlocks = factory.CreateCounter(
            "eas_gateway_llm_prefix_hit_blocks_total",
            "Leading prompt blocks the chosen replica was believed to have cached, by service.",
            ["service"]);
        _queueDepth = factory.CreateGauge(
            "eas_gateway_llm_queue_depth",
            "Requests waiting because every replica of the service is saturated.",
            ["service"]);
        _queueWait = factory.CreateHistogram(
            "eas_gateway_llm_queue_wait_seconds",
            "Time queued requests waited before a replica took them, by service.",
            ["service"],
            new HistogramConfiguration { Buckets = WaitBuckets });
        _fallbacks = factory.CreateCounter(
            "eas_gateway_llm_fallbacks_total",
            "Requests routed by least-requests because the LLM policy failed (reason=error) or ran past its budget (reason=slow).",
            ["service", "reason"]);
        _retries = factory.CreateCounter(
            "eas_gateway_llm_retries_total",
            "Requests moved to another replica before their first response byte, by service.",
            ["service"]);
        ScrapeErrors = factory.CreateCounter(
            "eas_gateway_llm_scrape_errors_total",
            "Failed scrapes of an engine's /metrics (refused, timed out, or not HTTP 200).");
        _decisionSeconds = factory.CreateHistogram(
            "eas_gateway_llm_decision_seconds",
            "Time to route one request (prompt extraction, prefix lookup, scoring), queue wait excluded.",
            new HistogramConfiguration { Buckets = DecisionBuckets });
        _replicaInFlight = factory.CreateGauge(
            "eas_gateway_llm_replica_in_flight",
            "Requests this gateway's LLM router has in flight on each replica (instance) of a service, as its cost model counts them.",
            ["service", "instance"]);
        _replicaPendingTokens = factory.CreateGauge(
            "eas_gateway_llm_replica_pending_prefill_tokens",
            "Estimated prompt tokens routed to each replica that have not reached their first response byte.",
            ["service", "instance"]);
    }

    public Counter ScrapeErrors { get; }

    /// <summary>Sets the per-replica gauges to <paramref name="replicas"/> (service, instance, in flight, pending tokens) and drops the series of replicas gone since.</summary>
    public void PublishReplicas(IEnumerable<(string Service, string Instance, int InFlight, long PendingTokens)> replicas)
    {
        lock (_published)
        {
            var current = new HashSet<(string Service, string Instance)>();
            foreach (var (service, instance, inFlight, pending) in replicas)
            {
                current.Add((service, instance));
                _replicaInFlight.WithLabels(service, instance).Set(inFlight);
                _replicaPendingTokens.WithLabels(service, instance).Set(pending);
            }

            foreach (var gone in _published.Except(current))
            {
                _replicaInFlight.RemoveLabelled(gone.Service, gone.Instance);
                _replicaPendingTokens.RemoveLabelled(gone.Service, gone.Instance);
            }

            _published.Clear();
            _published.UnionWith(current);
        }
    }

    public Histogram DecisionSeconds => _decisionSeconds;

    public ServiceMetrics For(string service) => new(this, service);

    /// <summary>The label children of one service.</summary>
    internal sealed class ServiceMetrics(LlmRouterMetrics owner, string service)
    {
        public Counter.Child Prefix { get; } = owner._decisions.WithLabels(service, "prefix");

        public Counter.Child Load { get; } = owner._decisions.WithLabels(service, "load");

        public Counter.Child Session { get; } = owner._decisions.WithLabels(service, "session");

        public Counter.Child Fallback { get; } = owner._decisions.WithLabels(service, "fallback");

        public Counter.Child QueueFull { get; } = owner._decisions.WithLabels(service, "queue_full");

        public Counter.Child QueueTimeout { get; } = owner._decisions.WithLabels(service, "queue_timeout");

        public Counter.Child NoReplica { get; } = owner._decisions.WithLabels(service, "no_replica");

        public Counter.Child PromptBlocks { get; } = owner._promptBlocks.WithLabels(service);

        public Counter.Child HitBlocks { get; } = owner._hitBlocks.WithLabels(service);

        public Gauge.Child QueueDepth { get; } = owner._queueDepth.WithLabels(service);

        public Histogram.Child QueueWait { get; } = owner._queueWait.WithLabels(service);

        public Counter.Child FallbackError { get; } = owner._fallbacks.WithLabels(service, "error");

        public Counter.Child FallbackSlow { get; } = owner._fallbacks.WithLabels(service, "slow");

        public Counter.Child Retries { get; } = owner._retries.WithLabels(service);

        public Counter.Child Routed(LlmRouteReason reason) => reason switch
        {
            LlmRouteReason.Prefix => Prefix,
            LlmRouteReason.Session => Session,
            LlmRouteReason.Fallback => Fallback,
            _ => Load,
        };
    }
}
