using System.Globalization;
using System.Net;
using Eas.Node.Contracts.V1;
using Eas.Node.Functional.Tests.Infrastructure;

namespace Eas.Node.Functional.Tests;

/// <summary>
/// The real daemons' /metrics after a deploy and some calls: the agent's instance, cgroup and process series, the
/// coordinator's services, instances, nodes and scheduling, and the embedded gateway's requests on the coordinator's endpoint.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class MetricsTests(Cluster cluster)
{
    private const string Name = "metrics_demo";
    private static readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };

    [ClusterFact]
    public async Task Scrape_AgentAndCoordinator_AfterADeployAndCalls()
    {
        var code = Path.Combine(Repo.Root, "examples/gpu/code");
        var created = await cluster.Services.CreateServiceAsync(new CreateServiceRequest
        {
            SpecJson = $$"""
                { "metadata": { "name": "{{Name}}", "instance": 1, "cpu": 0.1, "memory": 128, "rpc": { "enable_sigterm": true } },
                  "containers": [ { "image": "host", "script": "exec python3 /mnt/data/app.py", "port": 8000 } ],
                  "storage": [ { "mount_path": "/mnt/data/", "host": { "path": "{{code}}", "readOnly": true } } ] }
                """,
        });
        try
        {
            var service = await cluster.WaitReadyAsync(Name, 1, TimeSpan.FromMinutes(2));
            var instance = service.Instances.Single().Id;
            for (var i = 0; i < 3; i++)
            {
                (await CallAsync(created.Token)).Should().Be(HttpStatusCode.OK);
            }

            (await CallAsync(null)).Should().Be(HttpStatusCode.Unauthorized);

            var agent = await ScrapeAsync(cluster.AgentMetricsUrl);
            agent[$"eas_agent_instances{{service=\"{Name}\",state=\"Ready\"}}"].Should().Be(1);
            agent[$"eas_agent_instance_memory_bytes{{service=\"{Name}\",instance=\"{instance}\"}}"].Should().BePositive();
            agent[$"eas_agent_instance_memory_limit_bytes{{service=\"{Name}\",instance=\"{instance}\"}}"].Should().Be(128 * 1024 * 1024);
            agent.Should().ContainKey($"eas_agent_instance_cpu_seconds_total{{service=\"{Name}\",instance=\"{instance}\"}}");
            agent.Keys.Should().Contain(k => k.StartsWith("process_cpu_seconds_total", StringComparison.Ordinal));

            var coordinator = await ScrapeAsync(cluster.CoordinatorMetricsUrl);
            coordinator["eas_coordinator_services{status=\"Running\"}"].Should().BeGreaterThanOrEqualTo(1);
            coordinator[$"eas_coordinator_instances{{service=\"{Name}\",state=\"Ready\"}}"].Should().Be(1);
            coordinator["eas_coordinator_nodes{status=\"Ready\"}"].Should().Be(1);
            coordinator["eas_coordinator_schedule_duration_seconds_count"].Should().BeGreaterThanOrEqualTo(1);
            coordinator[$"eas_gateway_requests_total{{service=\"{Name}\",code=\"200\"}}"].Should().Be(3);
            coordinator[$"eas_gateway_requests_total{{service=\"{Name}\",code=\"401\"}}"].Should().Be(1);
            coordinator[$"eas_gateway_request_duration_seconds_count{{service=\"{Name}\"}}"].Should().Be(4);

            using var onGateway = await _http.GetAsync(new Uri($"{cluster.GatewayUrl}/metrics"));
            onGateway.StatusCode.Should().Be(HttpStatusCode.NotFound, "metrics are not served on the gateway's public listener");
        }
        finally
        {
            await cluster.Services.DeleteServiceAsync(new ServiceRef { Name = Name });
            await cluster.WaitForAsync(
                async () => (await cluster.Services.ListServicesAsync(new ListServicesRequest())).Services.All(s => s.Name != Name),
                TimeSpan.FromSeconds(60),
                $"{Name} to be deleted");
        }
    }

    private async Task<HttpStatusCode> CallAsync(string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{cluster.GatewayUrl}/api/predict/{Name}/");
        if (token is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", token);
        }

        using var response = await _http.SendAsync(request);
        return response.StatusCode;
    }

    internal static async Task<Dictionary<string, double>> ScrapeAsync(string baseUrl)
    {
        var text = await _http.GetStringAsync(new Uri($"{baseUrl}/metrics"));
        return text
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(l => !l.StartsWith('#'))
            .ToDictionary(l => l[..l.LastIndexOf(' ')], l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture), StringComparer.Ordinal);
    }
}

/// <summary>The agent's GPU series on a node with two fake H100s (native/fake-nvml).</summary>
[Collection(GpuClusterCollection.Name)]
public sealed class GpuMetricsTests(GpuCluster cluster)
{
    [ClusterFact]
    public async Task Scrape_Agent_ShowsEveryGpuFromTheLatestPoll()
    {
        var agent = await MetricsTests.ScrapeAsync(cluster.AgentMetricsUrl);
        var nodes = await cluster.Services.ListNodesAsync(new ListNodesRequest());
        var inventory = nodes.Nodes.Single(n => n.Name == cluster.NodeName).Gpus.Select(g => g.Gpu).ToList();

        inventory.Should().HaveCount(2);
        foreach (var gpu in inventory)
        {
            var labels = $"{{gpu=\"{gpu.Index}\",uuid=\"{gpu.Uuid}\",model=\"{gpu.Model}\"}}";
            agent["eas_agent_gpu_memory_total_bytes" + labels].Should().Be(gpu.MemoryMib * 1024.0 * 1024.0, "the agent reports the inventory the coordinator shows");
            agent["eas_agent_gpu_memory_used_bytes" + labels].Should().BeGreaterThanOrEqualTo(0);
            agent["eas_agent_gpu_utilization_percent" + labels].Should().BeInRange(0, 100);
            agent["eas_agent_gpu_healthy" + labels].Should().BeOneOf(0, 1);
            agent.Should().ContainKey("eas_agent_gpu_temperature_celsius" + labels).And.ContainKey("eas_agent_gpu_power_watts" + labels);
        }
    }
}
