using System.Globalization;
using Eas.Node.Agent.Gpus;
using Eas.Node.Agent.Instances;
using Eas.Node.Contracts.V1;
using Prometheus;

namespace Eas.Node.Agent.Metrics;

/// <summary>
/// Samples, at scrape time only, what the agent already knows: its instances and their states, each instance's cgroup
/// usage, and every GPU's usage from <see cref="GpuMonitor"/>'s latest poll. Series of instances and GPUs that are gone
/// are dropped at the next scrape.
/// </summary>
public sealed class AgentMetricsCollector
{
    private readonly InstanceSupervisor _supervisor;
    private readonly CgroupUsageReader _cgroups;
    private readonly GpuMonitor _gpus;
    private readonly Lock _gate = new();
    private readonly ScrapedGauge _instances;
    private readonly ScrapedGauge _memory;
    private readonly ScrapedGauge _memoryLimit;
    private readonly ScrapedCounter _cpu;
    private readonly ScrapedGauge _gpuUtilization;
    private readonly ScrapedGauge _gpuMemoryUsed;
    private readonly ScrapedGauge _gpuMemoryTotal;
    private readonly ScrapedGauge _gpuTemperature;
    private readonly ScrapedGauge _gpuPower;
    private readonly ScrapedGauge _gpuHealthy;

    /// <summary>Creates the sampled metrics in <paramref name="metrics"/>' registry and samples them before every collection.</summary>
    public AgentMetricsCollector(AgentMetrics metrics, InstanceSupervisor supervisor, CgroupUsageReader cgroups, GpuMonitor gpus)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        _supervisor = supervisor;
        _cgroups = cgroups;
        _gpus = gpus;
        var f = metrics.Factory;
        string[] instance = ["service", "instance"];
        string[] gpu = ["gpu", "uuid", "model"];
        _instances = new(f.CreateGauge("eas_agent_instances", "Instances on this node, by service and state (Preparing, Starting, Running, Ready, Terminating, Failed…).", ["service", "state"]));
        _memory = new(f.CreateGauge("eas_agent_instance_memory_bytes", "Memory charged to the instance's cgroup, page cache included (v2 memory.current, v1 memory.usage_in_bytes).", instance));
        _memoryLimit = new(f.CreateGauge("eas_agent_instance_memory_limit_bytes", "The instance's memory limit (metadata.memory); absent when it has none.", instance));
        _cpu = new(f.CreateCounter("eas_agent_instance_cpu_seconds_total", "CPU time used by the instance's processes since its container started (resets when it restarts).", instance));
        _gpuUtilization = new(f.CreateGauge("eas_agent_gpu_utilization_percent", "GPU utilization in percent at the latest NVML poll (Agent:Gpu:PollSeconds).", gpu));
        _gpuMemoryUsed = new(f.CreateGauge("eas_agent_gpu_memory_used_bytes", "GPU memory in use at the latest NVML poll.", gpu));
        _gpuMemoryTotal = new(f.CreateGauge("eas_agent_gpu_memory_total_bytes", "The GPU's memory.", gpu));
        _gpuTemperature = new(f.CreateGauge("eas_agent_gpu_temperature_celsius", "GPU temperature at the latest NVML poll.", gpu));
        _gpuPower = new(f.CreateGauge("eas_agent_gpu_power_watts", "GPU power draw at the latest NVML poll.", gpu));
        _gpuHealthy = new(f.CreateGauge("eas_agent_gpu_healthy", "1 while the GPU is healthy, 0 after an XID error (for Agent:Gpu:XidHoldSeconds) or when it fell off the bus.", gpu));
        metrics.Registry.AddBeforeCollectCallback(Collect);
    }

    /// <summary>Samples everything once (the registry calls it before each collection).</summary>
    public void Collect()
    {
        lock (_gate)
        {
            CollectInstances();
            CollectGpus();
        }
    }

    private void CollectInstances()
    {
        var counts = new Dictionary<(string Service, string State), int>();
        foreach (var runner in _supervisor.Runners())
        {
            var service = runner.Assignment.Service;
            var state = _supervisor.Statuses.Get(runner.InstanceId)?.State ?? InstanceState.Pending;
            var key = (service, StateName(state));
            counts[key] = counts.GetValueOrDefault(key) + 1;

            if (_cgroups.Read(runner.Context.ContainerId) is { } usage)
            {
                _memory.Set(usage.MemoryBytes, service, runner.InstanceId);
                if (usage.MemoryLimitBytes is { } limit)
                {
                    _memoryLimit.Set(limit, service, runner.InstanceId);
                }

                _cpu.Set(usage.CpuSeconds, service, runner.InstanceId);
            }
        }

        foreach (var ((service, state), count) in counts)
        {
            _instances.Set(count, service, state);
        }

        _instances.Finish();
        _memory.Finish();
        _memoryLimit.Finish();
        _cpu.Finish();
    }

    private void CollectGpus()
    {
        foreach (var gpu in _gpus.Inventory().Gpus)
        {
            string[] labels = [gpu.Index.ToString(CultureInfo.InvariantCulture), gpu.Uuid, gpu.Model];
            var usage = gpu.Usage ?? new GpuUsage();
            _gpuUtilization.Set(usage.UtilizationPercent, labels);
            _gpuMemoryUsed.Set(usage.MemoryUsedMib * 1024.0 * 1024.0, labels);
            _gpuMemoryTotal.Set(gpu.MemoryMib * 1024.0 * 1024.0, labels);
            _gpuTemperature.Set(usage.TemperatureCelsius, labels);
            _gpuPower.Set(usage.PowerMilliwatts / 1000.0, labels);
            _gpuHealthy.Set(gpu.Healthy ? 1 : 0, labels);
        }

        _gpuUtilization.Finish();
        _gpuMemoryUsed.Finish();
        _gpuMemoryTotal.Finish();
        _gpuTemperature.Finish();
        _gpuPower.Finish();
        _gpuHealthy.Finish();
    }

    // "Ready", "Failed"…: the names easctl shows.
    private static string StateName(InstanceState state) => state.ToString();

    /// <summary>A gauge whose series are exactly those set since the previous <see cref="Finish"/>.</summary>
    private sealed class ScrapedGauge(Gauge gauge)
    {
        private readonly SeriesSet _series = new();

        public void Set(double value, params string[] labels)
        {
            _series.Touch(labels);
            gauge.WithLabels(labels).Set(value);
        }

        public void Finish() => _series.Finish(labels => gauge.RemoveLabelled(labels));
    }

    /// <summary>A counter set to a sampled total; a total that went down (a new cgroup) starts the series again.</summary>
    private sealed class ScrapedCounter(Counter counter)
    {
        private readonly SeriesSet _series = new();

        public void Set(double total, params string[] labels)
        {
            _series.Touch(labels);
            var child = counter.WithLabels(labels);
            if (total < child.Value)
            {
                counter.RemoveLabelled(labels);
                child = counter.WithLabels(labels);
            }

            child.IncTo(total);
        }

        public void Finish() => _series.Finish(labels => counter.RemoveLabelled(labels));
    }

    /// <summary>The label sets touched in this scrape and the previous one.</summary>
    private sealed class SeriesSet
    {
        private Dictionary<string, string[]> _previous = new(StringComparer.Ordinal);
        private Dictionary<string, string[]> _current = new(StringComparer.Ordinal);

        public void Touch(string[] labels) => _current[string.Join('\0', labels)] = labels;

        /// <summary>Calls <paramref name="remove"/> for every label set touched last time but not this time.</summary>
        public void Finish(Action<string[]> remove)
        {
            foreach (var (key, labels) in _previous)
            {
                if (!_current.ContainsKey(key))
                {
                    remove(labels);
                }
            }

            (_previous, _current) = (_current, _previous);
            _current.Clear();
        }
    }
}
