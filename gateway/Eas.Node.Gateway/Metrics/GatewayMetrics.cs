using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Prometheus;

namespace Eas.Node.Gateway.Metrics;

/// <summary>
/// The gateway's request metrics (docs/metrics.md): requests by service and status code, a latency histogram and the
/// requests in flight per service; the same per instance, with each instance's queue depth; and the requests the
/// gateway's limits turned away, by reason. Label children are resolved once per service, instance, status code and
/// reason and kept, so recording a request is a few interlocked operations and allocates nothing.
/// </summary>
public sealed class GatewayMetrics
{
    /// <summary>Latency buckets in seconds: 1 ms to 30 s.</summary>
    internal static readonly double[] LatencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private readonly ConcurrentDictionary<string, ServiceMetrics> _services = new(StringComparer.Ordinal);
    private readonly Func<string, ServiceMetrics> _create;
    private readonly Counter _requests;
    private readonly Histogram _duration;
    private readonly Gauge _inFlight;
    private readonly Counter _rejections;
    private readonly Counter _instanceRequests;
    private readonly Histogram _instanceDuration;
    private readonly Gauge _queueDepth;
    private readonly ConcurrentDictionary<(string Service, string Instance), InstanceMetrics> _instances = new();

    /// <summary>
    /// The metric factory every gateway series is made with: no exemplars, so recording a value never looks up the
    /// trace context (it is done on every request).
    /// </summary>
    internal static IMetricFactory FactoryFor(CollectorRegistry registry)
    {
        var factory = Prometheus.Metrics.WithCustomRegistry(registry);
        factory.ExemplarBehavior = new ExemplarBehavior { DefaultExemplarProvider = null };
        return factory;
    }

    /// <summary>Registers the gateway's metrics in <paramref name="registry"/>.</summary>
    public GatewayMetrics(CollectorRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        Registry = registry;

        var factory = FactoryFor(registry);
        _requests = factory.CreateCounter(
            "eas_gateway_requests_total",
            "Requests answered by the gateway, by service and HTTP status code (service=\"\" for requests that name no known service).",
            ["service", "code"]);
        _duration = factory.CreateHistogram(
            "eas_gateway_request_duration_seconds",
            "Time from the request's arrival to the end of its response (the whole body, for forwarded requests), by service.",
            ["service"],
            new HistogramConfiguration { Buckets = LatencyBuckets });
        _inFlight = factory.CreateGauge(
            "eas_gateway_requests_in_flight",
            "Requests being forwarded to an instance now, by service.",
            ["service"]);
        _rejections = factory.CreateCounter(
            "eas_gateway_rejections_total",
            "Requests the gateway's limits turned away, by service and reason: rate_limit (metadata.rpc.rate_limit, 429), service_rate_limit (gateway_policy.rate_limit, 429), concurrency (gateway_policy.concurrency_limit, 429), queue_full (metadata.rpc.max_queue_size, 450).",
            ["service", "reason"]);
        _instanceRequests = factory.CreateCounter(
            "eas_gateway_instance_requests_total",
            "Requests forwarded to an instance, by service, instance and HTTP status code.",
            ["service", "instance", "code"]);
        _instanceDuration = factory.CreateHistogram(
            "eas_gateway_instance_request_duration_seconds",
            "Time from the request's arrival to the end of its response, for requests forwarded to an instance, by service and instance.",
            ["service", "instance"],
            new HistogramConfiguration { Buckets = LatencyBuckets });
        _queueDepth = factory.CreateGauge(
            "eas_gateway_instance_queue_depth",
            "Requests in flight to an instance now (its queue; metadata.rpc.max_queue_size caps it), by service and instance.",
            ["service", "instance"]);
        _create = name => new ServiceMetrics(this, name);
        Unrouted = For("");
    }

    /// <summary>The registry the metrics live in.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>Requests that name no known service (a wrong path, an unknown service, no routing table yet).</summary>
    internal ServiceMetrics Unrouted { get; }

    /// <summary>The metrics of one service, created on first use and kept for the gateway's lifetime.</summary>
    internal ServiceMetrics For(string service) => _services.GetOrAdd(service, _create);

    /// <summary>The metrics of one instance of <paramref name="service"/>, created on first use; removed when the instance leaves the table.</summary>
    internal InstanceMetrics ForInstance(string service, string instance) =>
        _instances.GetOrAdd((service, instance), key => new InstanceMetrics(this, key.Service, key.Instance));

    /// <summary>
    /// Before each scrape: sets every instance's queue depth from <paramref name="endpoints"/> (service name, instance id,
    /// requests in flight; the current routing table) and drops the series of instances that are no longer in it.
    /// Sampled at scrape time, the gauge costs the request path nothing.
    /// </summary>
    internal void TrackInstances(Func<IEnumerable<(string Service, string Instance, int InFlight)>> endpoints)
    {
        Registry.AddBeforeCollectCallback(() =>
        {
            var live = new HashSet<(string, string)>();
            foreach (var (service, instance, inFlight) in endpoints())
            {
                live.Add((service, instance));
                ForInstance(service, instance).SetQueueDepth(inFlight);
            }

            foreach (var (key, gone) in _instances)
            {
                if (!live.Contains(key) && _instances.TryRemove(key, out _))
                {
                    gone.Remove();
                }
            }
        });
    }

    /// <summary>The label children of one service; the status-code children are resolved on first use.</summary>
    internal sealed class ServiceMetrics
    {
        // Status codes 100-599 index this array; anything else is counted under slot 0, labelled "other".
        private const int MaxCode = 600;

        private readonly GatewayMetrics _owner;
        private readonly string _service;
        private readonly Counter.Child?[] _byCode = new Counter.Child?[MaxCode];
        private readonly Histogram.Child _duration;
        private readonly Gauge.Child _inFlight;
        private readonly Counter.Child?[] _rejections = new Counter.Child?[RejectReasons.Length];

        public ServiceMetrics(GatewayMetrics owner, string service)
        {
            _owner = owner;
            _service = service;
            _duration = owner._duration.WithLabels(service);
            _inFlight = owner._inFlight.WithLabels(service);
        }

        /// <summary>Counts a request turned away by a limit (its status is recorded with <see cref="Record"/>).</summary>
        public void Reject(RejectReason reason)
        {
            var slot = (int)reason;
            var counter = _rejections[slot];
            if (counter is null)
            {
                counter = _owner._rejections.WithLabels(_service, RejectReasons[slot]);
                Volatile.Write(ref _rejections[slot], counter);
            }

            counter.Inc();
        }

        /// <summary>A request is being forwarded.</summary>
        public void Enter() => _inFlight.Inc();

        /// <summary>A forwarded request is done.</summary>
        public void Exit() => _inFlight.Dec();

        /// <summary>Counts a request answered with <paramref name="statusCode"/> and its time since <paramref name="startTimestamp"/> (<see cref="Stopwatch.GetTimestamp"/>).</summary>
        public void Record(int statusCode, long startTimestamp)
        {
            var slot = statusCode is >= 100 and < MaxCode ? statusCode : 0;
            var counter = _byCode[slot] ?? Resolve(slot);
            counter.Inc();
            _duration.Observe(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);
        }

        private Counter.Child Resolve(int slot)
        {
            var code = slot == 0 ? "other" : slot.ToString(CultureInfo.InvariantCulture);
            var child = _owner._requests.WithLabels(_service, code);

            // Two threads may resolve the same slot; WithLabels returns the same child to both.
            Volatile.Write(ref _byCode[slot], child);
            return child;
        }
    }

    /// <summary>The label values of <see cref="RejectReason"/>, by value.</summary>
    internal static readonly string[] RejectReasons = ["rate_limit", "service_rate_limit", "concurrency", "queue_full"];

    /// <summary>The label children of one instance; the status-code children are resolved on first use.</summary>
    internal sealed class InstanceMetrics
    {
        private const int MaxCode = 600;

        private readonly GatewayMetrics _owner;
        private readonly string _service;
        private readonly string _instance;
        private readonly Counter.Child?[] _byCode = new Counter.Child?[MaxCode];
        private readonly Histogram.Child _duration;
        private Gauge.Child? _queueDepth;

        public InstanceMetrics(GatewayMetrics owner, string service, string instance)
        {
            _owner = owner;
            _service = service;
            _instance = instance;
            _duration = owner._instanceDuration.WithLabels(service, instance);
        }

        /// <summary>Counts a forwarded request answered with <paramref name="statusCode"/>, and its time since <paramref name="startTimestamp"/>.</summary>
        public void Record(int statusCode, long startTimestamp)
        {
            var slot = statusCode is >= 100 and < MaxCode ? statusCode : 0;
            var counter = _byCode[slot];
            if (counter is null)
            {
                counter = _owner._instanceRequests.WithLabels(_service, _instance, slot == 0 ? "other" : slot.ToString(CultureInfo.InvariantCulture));
                Volatile.Write(ref _byCode[slot], counter);
            }

            counter.Inc();
            _duration.Observe(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);
        }

        internal void SetQueueDepth(int inFlight) => (_queueDepth ??= _owner._queueDepth.WithLabels(_service, _instance)).Set(inFlight);

        internal void Remove()
        {
            foreach (var counter in _byCode)
            {
                counter?.Remove();
            }

            _duration.Remove();
            _queueDepth?.Remove();
        }
    }
}

/// <summary>Why a limit turned a request away (the <c>reason</c> label of <c>eas_gateway_rejections_total</c>).</summary>
internal enum RejectReason
{
    /// <summary>metadata.rpc.rate_limit: every Ready instance used its requests for this second (429).</summary>
    RateLimit,

    /// <summary>networking.gateway_policy.rate_limit: the service used its requests for this second (429).</summary>
    ServiceRateLimit,

    /// <summary>networking.gateway_policy.concurrency_limit: the service has that many requests in flight (429).</summary>
    Concurrency,

    /// <summary>metadata.rpc.max_queue_size: every Ready instance has that many requests in flight (450).</summary>
    QueueFull,
}
