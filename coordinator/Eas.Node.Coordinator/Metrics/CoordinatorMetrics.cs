using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Api;
using Eas.Node.Coordinator.Store;
using Prometheus;

namespace Eas.Node.Coordinator.Metrics;

/// <summary>
/// The coordinator's metric registry (served at <c>Coordinator:MetricsListen</c>, with the embedded gateway's request
/// metrics in it too): scheduling latency as it happens, and services, instances and nodes read from the store at
/// scrape time only (docs/metrics.md).
/// </summary>
public sealed class CoordinatorMetrics : IDisposable
{
    /// <summary>The statuses a service can show (<see cref="ServiceViews.Status"/>); each is always exported.</summary>
    internal static readonly string[] ServiceStatuses = ["Pending", "Running", "Updating", "Failed", "Stopping", "Stopped", "Deleting"];

    /// <summary>The statuses a node can show (<see cref="NodeRecord.DisplayStatus"/>); each is always exported.</summary>
    internal static readonly string[] NodeStatuses = ["Ready", "Cordoned", "Draining", "Down"];

    /// <summary>Scheduler call buckets in seconds: 100 µs to 2.5 s.</summary>
    internal static readonly double[] ScheduleBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

    private readonly ICoordinatorStore _store;
    private readonly Histogram _schedule;
    private readonly Gauge _services;
    private readonly Gauge _instances;
    private readonly Gauge _nodes;
    private readonly SemaphoreSlim _collecting = new(1, 1);
    private HashSet<(string Service, string State)> _instanceSeries = [];

    /// <summary>Creates the registry (with the process's CPU, memory and GC figures) and the coordinator's metrics.</summary>
    public CoordinatorMetrics(ICoordinatorStore store)
    {
        _store = store;
        Registry = Prometheus.Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        factory.ExemplarBehavior = new ExemplarBehavior { DefaultExemplarProvider = null };
        _schedule = factory.CreateHistogram(
            "eas_coordinator_schedule_duration_seconds",
            "Time of one scheduler call (feasibility, ranking and placement of every unplaced instance) in a reconcile pass.",
            new HistogramConfiguration { Buckets = ScheduleBuckets });
        _services = factory.CreateGauge("eas_coordinator_services", "Services, by the status easctl shows (Pending, Running, Updating, Failed, Stopping, Stopped, Deleting).", ["status"]);
        _instances = factory.CreateGauge("eas_coordinator_instances", "Instances the coordinator records, by service and state (as easctl desc shows them).", ["service", "state"]);
        _nodes = factory.CreateGauge("eas_coordinator_nodes", "Registered nodes, by status (Ready, Cordoned, Draining, Down).", ["status"]);
        Registry.AddBeforeCollectCallback(CollectAsync);
    }

    /// <summary>The registry <c>/metrics</c> serves.</summary>
    public CollectorRegistry Registry { get; }

    /// <inheritdoc />
    public void Dispose() => _collecting.Dispose();

    /// <summary>Records how long one scheduler call took.</summary>
    public void ObserveSchedule(TimeSpan elapsed) => _schedule.Observe(elapsed.TotalSeconds);

    /// <summary>Reads services, instances and nodes from the store into the gauges (before each collection).</summary>
    internal async Task CollectAsync(CancellationToken cancellationToken)
    {
        await _collecting.WaitAsync(cancellationToken);
        try
        {
            var services = await _store.ListServicesAsync(cancellationToken);
            var instances = await _store.ListInstancesAsync(null, cancellationToken);
            var nodes = await _store.ListNodesAsync(cancellationToken);

            var byService = instances.ToLookup(i => i.Service, StringComparer.Ordinal);
            var statuses = services.Select(s => ServiceViews.Status(s, [.. byService[s.Name]])).ToList();
            foreach (var status in ServiceStatuses)
            {
                _services.WithLabels(status).Set(statuses.Count(s => s == status));
            }

            var counts = instances
                .GroupBy(i => (i.Service, State: StateName(i)))
                .ToDictionary(g => g.Key, g => g.Count());
            foreach (var ((service, state), count) in counts)
            {
                _instances.WithLabels(service, state).Set(count);
            }

            foreach (var (service, state) in _instanceSeries.Where(k => !counts.ContainsKey(k)))
            {
                _instances.RemoveLabelled(service, state);
            }

            _instanceSeries = [.. counts.Keys];
            foreach (var status in NodeStatuses)
            {
                _nodes.WithLabels(status).Set(nodes.Count(n => n.DisplayStatus == status));
            }
        }
        finally
        {
            _collecting.Release();
        }
    }

    // As easctl desc shows it: an instance being removed is Terminating until it has stopped or failed.
    private static string StateName(InstanceRecord instance) =>
        (instance.Removing && instance.State is not (InstanceState.Stopped or InstanceState.Failed) ? InstanceState.Terminating : instance.State).ToString();
}
