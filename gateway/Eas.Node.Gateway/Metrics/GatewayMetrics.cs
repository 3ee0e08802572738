using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Prometheus;

namespace Eas.Node.Gateway.Metrics;

/// <summary>
/// The gateway's request metrics (docs/metrics.md): requests by service and status code, a latency histogram and the
/// requests in flight per service. Label children are resolved once per service (and per status code) and kept, so
/// recording a request is a few interlocked operations and allocates nothing.
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

    /// <summary>Registers the gateway's metrics in <paramref name="registry"/>.</summary>
    public GatewayMetrics(CollectorRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        Registry = registry;

        // No exemplars: no trace-context lookup per request.
        var factory = Prometheus.Metrics.WithCustomRegistry(registry);
        factory.ExemplarBehavior = new ExemplarBehavior { DefaultExemplarProvider = null };
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
        _create = name => new ServiceMetrics(this, name);
        Unrouted = For("");
    }

    /// <summary>The registry the metrics live in.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>Requests that name no known service (a wrong path, an unknown service, no routing table yet).</summary>
    internal ServiceMetrics Unrouted { get; }

    /// <summary>The metrics of one service, created on first use and kept for the gateway's lifetime.</summary>
    internal ServiceMetrics For(string service) => _services.GetOrAdd(service, _create);

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

        public ServiceMetrics(GatewayMetrics owner, string service)
        {
            _owner = owner;
            _service = service;
            _duration = owner._duration.WithLabels(service);
            _inFlight = owner._inFlight.WithLabels(service);
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
}
