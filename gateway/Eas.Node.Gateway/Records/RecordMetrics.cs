using System.Collections.Concurrent;
using Eas.Node.Gateway.Metrics;
using Prometheus;

namespace Eas.Node.Gateway.Records;

/// <summary>
/// The call-record counters: records written and records dropped, by service and sink ("file" or "otlp"). Label children
/// are resolved once per (service, sink) and kept.
/// </summary>
internal sealed class RecordMetrics
{
    private readonly ConcurrentDictionary<(string Service, string Sink), Children> _children = new();
    private readonly Func<(string Service, string Sink), Children> _create;

    public RecordMetrics(CollectorRegistry registry)
    {
        var factory = GatewayMetrics.FactoryFor(registry);
        var written = factory.CreateCounter(
            "eas_gateway_records_written_total",
            "Call records handed to their sink (written to the record file, or accepted by the OTLP collector), by service and sink.",
            ["service", "sink"]);
        var dropped = factory.CreateCounter(
            "eas_gateway_records_dropped_total",
            "Call records lost because their sink's queue was full or the sink failed (disk full, collector down or slow), by service and sink.",
            ["service", "sink"]);
        _create = key => new Children(written.WithLabels(key.Service, key.Sink), dropped.WithLabels(key.Service, key.Sink));
    }

    public void Written(string service, string sink, int count = 1) => _children.GetOrAdd((service, sink), _create).Written.Inc(count);

    public void Dropped(string service, string sink, int count = 1) => _children.GetOrAdd((service, sink), _create).Dropped.Inc(count);

    private sealed record Children(Counter.Child Written, Counter.Child Dropped);
}
