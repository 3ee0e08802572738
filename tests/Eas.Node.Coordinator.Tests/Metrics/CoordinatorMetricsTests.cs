using System.Globalization;
using System.Net;
using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Hosting;
using Eas.Node.Coordinator.Tests.Support;

namespace Eas.Node.Coordinator.Tests.Metrics;

/// <summary>The coordinator's /metrics: services, instances, nodes, scheduling latency, and the embedded gateway's requests.</summary>
public sealed class CoordinatorMetricsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Scrape_AfterADeployAndCalls_ShowsServicesInstancesNodesSchedulingAndGatewayRequests()
    {
        await using var backend = await PongBackend.StartAsync();
        var backendPort = new Uri(backend.Urls.First()).Port;
        await using var coordinator = await TestCoordinator.StartAsync(_dir.Path, embeddedGateway: true, configure: o => o.MetricsListen = "http://127.0.0.1:0");
        await using var nodeA = await FakeAgent.ConnectAsync(coordinator.Channel, "node-a");
        await using var nodeB = await FakeAgent.ConnectAsync(coordinator.Channel, "node-b");
        await coordinator.Services.CordonNodeAsync(new NodeRef { Name = "node-b" });
        var created = await coordinator.Services.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 2, port: backendPort) });
        await Eventually.UntilAsync(
            () => coordinator.Services.DescribeServiceAsync(new ServiceRef { Name = "demo" }).ResponseAsync,
            s => s.Status == "Running",
            "demo to be Running");
        using var gateway = new HttpClient { BaseAddress = new Uri(coordinator.GatewayUrl!) };
        await Eventually.UntilAsync(
            async () =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/api/predict/demo/hello");
                request.Headers.TryAddWithoutValidation("Authorization", created.Token);
                using var response = await gateway.SendAsync(request);
                return response.StatusCode;
            },
            status => status == HttpStatusCode.OK,
            "the gateway to route demo");
        using (var anonymous = await gateway.GetAsync(new Uri("/api/predict/demo/hello", UriKind.Relative)))
        {
            anonymous.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        }

        using var scraper = new HttpClient { BaseAddress = new Uri(coordinator.MetricsUrl!) };
        var text = await scraper.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        var scrape = Parse(text);

        scrape["eas_coordinator_services{status=\"Running\"}"].Should().Be(1, text);
        scrape["eas_coordinator_services{status=\"Failed\"}"].Should().Be(0, "every status is exported, 0 when no service has it");
        scrape["eas_coordinator_instances{service=\"demo\",state=\"Ready\"}"].Should().Be(2, text);
        scrape["eas_coordinator_nodes{status=\"Ready\"}"].Should().Be(1, text);
        scrape["eas_coordinator_nodes{status=\"Cordoned\"}"].Should().Be(1, text);
        scrape["eas_coordinator_nodes{status=\"Down\"}"].Should().Be(0, text);
        scrape["eas_coordinator_schedule_duration_seconds_count"].Should().BeGreaterThanOrEqualTo(1, "placing demo's instances called the scheduler");
        scrape["eas_coordinator_schedule_duration_seconds_bucket{le=\"2.5\"}"].Should().Be(scrape["eas_coordinator_schedule_duration_seconds_count"]);
        scrape["eas_gateway_requests_total{service=\"demo\",code=\"401\"}"].Should().Be(1, "the embedded gateway's requests are in the coordinator's registry");
        scrape["eas_gateway_requests_total{service=\"demo\",code=\"200\"}"].Should().BeGreaterThanOrEqualTo(1);
        scrape.Keys.Should().Contain(k => k.StartsWith("process_resident_memory_bytes", StringComparison.Ordinal) || k.StartsWith("process_working_set_bytes", StringComparison.Ordinal));

        // Deleting the service: its instance series go away once its instances are gone.
        await coordinator.Services.DeleteServiceAsync(new ServiceRef { Name = "demo" });
        await Eventually.UntilAsync(
            async () => (await coordinator.Services.ListServicesAsync(new ListServicesRequest())).Services.Count,
            count => count == 0,
            "demo to be deleted");
        var after = Parse(await scraper.GetStringAsync(new Uri("/metrics", UriKind.Relative)));
        after.Keys.Should().NotContain(k => k.StartsWith("eas_coordinator_instances{service=\"demo\"", StringComparison.Ordinal));
        after["eas_coordinator_services{status=\"Running\"}"].Should().Be(0);
    }

    [Fact]
    public async Task MetricsListen_Empty_ServesNoMetrics()
    {
        await using var coordinator = await TestCoordinator.StartAsync(_dir.Path);

        coordinator.MetricsUrl.Should().BeNull();
    }

    [Fact]
    public void Options_MetricsListen_DefaultsToLoopback9190_AndABadValueNamesKeyRuleAndFix()
    {
        CoordinatorConfiguration.Load([]).Options!.MetricsListen.Should().Be("http://127.0.0.1:9190");
        CoordinatorConfiguration.Load(["--Coordinator:MetricsListen="]).Options!.MetricsListen.Should().BeEmpty();

        var result = CoordinatorConfiguration.Load(["--Coordinator:MetricsListen=tcp://0.0.0.0:9190"]);

        result.Options.Should().BeNull();
        result.Errors.Should().ContainSingle().Which.Should()
            .Contain("Coordinator:MetricsListen").And.Contain("'tcp://0.0.0.0:9190' is not an http://HOST:PORT address").And.Contain("http://127.0.0.1:9190");
    }

    private static Dictionary<string, double> Parse(string text) => text
        .Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Where(l => !l.StartsWith('#'))
        .Select(l => (Series: l[..l.LastIndexOf(' ')], Value: double.Parse(l[(l.LastIndexOf(' ') + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture)))
        .ToDictionary(s => s.Series, s => s.Value, StringComparer.Ordinal);
}
