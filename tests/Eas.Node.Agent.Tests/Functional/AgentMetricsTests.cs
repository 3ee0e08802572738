using System.Globalization;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Interop;
using Eas.Node.Agent.Metrics;
using Eas.Node.Agent.Tests.Support;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.DependencyInjection;

namespace Eas.Node.Agent.Tests.Functional;

/// <summary>The real agent's /metrics with a real instance: its state, cgroup usage, a crash counted as a restart.</summary>
[Collection(AgentFunctionalCollection.Name)]
public sealed class AgentMetricsTests
{
    private static readonly TimeSpan _wait = TimeSpan.FromSeconds(60);

    [RootFact]
    public async Task Scrape_InstanceRunningCrashingAndRemoved_ShowsStateUsageAndRestarts()
    {
        await using var coordinator = await FakeCoordinator.StartAsync();
        await using var env = new AgentTestEnvironment();
        using var host = env.BuildHost(coordinator.Address);
        await host.StartAsync();
        try
        {
            await coordinator.NextAsync(m => m.Register is not null, _wait);
            var url = host.Services.GetRequiredService<MetricsListener>().Urls.Should().ContainSingle("the agent listens at Agent:MetricsListen").Subject;
            using var scraper = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(20) };

            coordinator.Send(Desired(1, AgentTestEnvironment.HttpServer("mx-a", memoryMib: 256)));
            var hub = host.Services.GetRequiredService<StatusHub>();
            await AgentTestEnvironment.WaitForAsync(hub, "mx-a", s => s.State == InstanceState.Ready, _wait);

            var ready = await ScrapeAsync(scraper);
            ready["eas_agent_instances{service=\"fn_test\",state=\"Ready\"}"].Should().Be(1);
            ready["eas_agent_instance_memory_bytes{service=\"fn_test\",instance=\"mx-a\"}"].Should().BePositive("python runs in the instance's memory cgroup");
            ready["eas_agent_instance_memory_limit_bytes{service=\"fn_test\",instance=\"mx-a\"}"].Should().Be(256 * 1024 * 1024);
            ready["eas_agent_instance_cpu_seconds_total{service=\"fn_test\",instance=\"mx-a\"}"].Should().BePositive("starting python took CPU time");
            ready.Keys.Should().NotContain(k => k.StartsWith("eas_agent_instance_restarts_total", StringComparison.Ordinal));
            ready.Keys.Should().NotContain(k => k.StartsWith("eas_agent_gpu_", StringComparison.Ordinal), "this node has no NVML, so no GPUs");
            ready.Keys.Should().Contain(k => k.StartsWith("process_cpu_seconds_total", StringComparison.Ordinal));

            // The process dies: the agent restarts it, counted with the reason "exit".
            var runner = host.Services.GetRequiredService<InstanceSupervisor>().Find("mx-a")!;
            Signals.Send(runner.Context.Process!.Value.Pid, Signals.Kill);
            await AgentTestEnvironment.WaitForAsync(hub, "mx-a", s => s.Restarts == 1 && s.State == InstanceState.Ready, _wait);
            var restarted = await ScrapeAsync(scraper);
            restarted["eas_agent_instance_restarts_total{service=\"fn_test\",reason=\"exit\"}"].Should().Be(1);
            restarted["eas_agent_instances{service=\"fn_test\",state=\"Ready\"}"].Should().Be(1);

            // Removed: its series go with it.
            coordinator.Send(Desired(2));
            await WaitUntilAsync(() => host.Services.GetRequiredService<InstanceSupervisor>().Count == 0);
            var gone = await ScrapeAsync(scraper);
            gone.Keys.Should().NotContain(k => k.Contains("instance=\"mx-a\"", StringComparison.Ordinal));
            gone.Keys.Should().NotContain(k => k.StartsWith("eas_agent_instances{", StringComparison.Ordinal));
            gone["eas_agent_instance_restarts_total{service=\"fn_test\",reason=\"exit\"}"].Should().Be(1, "a counter keeps its count");

            using var other = await scraper.GetAsync(new Uri("/", UriKind.Relative));
            other.StatusCode.Should().Be(System.Net.HttpStatusCode.NotFound);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    private static async Task<Dictionary<string, double>> ScrapeAsync(HttpClient scraper)
    {
        var text = await scraper.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        return text
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => !l.StartsWith('#'))
            .ToDictionary(l => l[..l.LastIndexOf(' ')], l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture), StringComparer.Ordinal);
    }

    private static CoordinatorMessage Desired(long generation, params InstanceAssignment[] instances)
    {
        var desired = new DesiredInstances { Epoch = 1, Generation = generation };
        desired.Instances.Add(instances);
        return new CoordinatorMessage { Desired = desired };
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + _wait;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("condition not met in time");
            }

            await Task.Delay(50);
        }
    }
}
