using Prometheus;

namespace Eas.Node.Agent.Metrics;

/// <summary>Why an instance was restarted in place: the <c>reason</c> label of <c>eas_agent_instance_restarts_total</c>.</summary>
public static class RestartKinds
{
    /// <summary>Its process exited (or was killed by a signal) on its own.</summary>
    public const string Exit = "exit";

    /// <summary>Its process was killed by the kernel's OOM killer (its memory cgroup counted an oom_kill).</summary>
    public const string Oom = "oom";

    /// <summary>A liveness or startup check failed.</summary>
    public const string Liveness = "liveness";

    /// <summary>The agent evicted it (e.g. it used more GPU memory than its slice).</summary>
    public const string Evicted = "evicted";

    /// <summary>Someone asked for it (<c>easctl restart</c>, or the restart of a crash-blocked instance).</summary>
    public const string Requested = "requested";
}

/// <summary>
/// The agent's metric registry (served at <c>Agent:MetricsListen</c>) and what is counted as it happens; usage that
/// is sampled (instances, cgroups, GPUs) is read at scrape time by <see cref="AgentMetricsCollector"/>.
/// </summary>
public sealed class AgentMetrics
{
    private readonly Counter _restarts;

    /// <summary>Creates the registry, with the agent process's own CPU, memory and GC figures.</summary>
    public AgentMetrics()
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        Factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        Factory.ExemplarBehavior = new ExemplarBehavior { DefaultExemplarProvider = null };
        _restarts = Factory.CreateCounter(
            "eas_agent_instance_restarts_total",
            "Restarts of instances in place since the agent started, by service and reason (exit, oom, liveness, evicted, requested).",
            ["service", "reason"]);
    }

    /// <summary>The registry <c>/metrics</c> serves.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>Creates further metrics in <see cref="Registry"/>.</summary>
    internal IMetricFactory Factory { get; }

    /// <summary>Counts one restart of an instance of <paramref name="service"/>; <paramref name="kind"/> is one of <see cref="RestartKinds"/>.</summary>
    public void CountRestart(string service, string kind) => _restarts.WithLabels(service, kind).Inc();
}
