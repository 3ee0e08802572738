using System.Diagnostics;
using System.Net;
using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Tests.Support;

namespace Eas.Node.Coordinator.Tests.Hosting;

public sealed class EmbeddedGatewayTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task EmbeddedGateway_ReadyInstance_ProxiesWithTheServiceToken()
    {
        await using var backend = await PongBackend.StartAsync();
        var backendPort = new Uri(backend.Urls.First()).Port;
        await using var coordinator = await TestCoordinator.StartAsync(_dir.Path, embeddedGateway: true);
        await using var agent = await FakeAgent.ConnectAsync(coordinator.Channel, "node-a");
        var created = await coordinator.Services.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 1, port: backendPort) });
        await Eventually.UntilAsync(
            () => coordinator.Services.DescribeServiceAsync(new ServiceRef { Name = "demo" }).ResponseAsync,
            s => s.Status == "Running",
            "demo to be Running");
        using var http = new HttpClient { BaseAddress = new Uri(coordinator.GatewayUrl!) };

        var response = await Eventually.UntilAsync(
            async () =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/api/predict/demo/hello");
                request.Headers.TryAddWithoutValidation("Authorization", created.Token);
                return await http.SendAsync(request);
            },
            r => r.StatusCode == HttpStatusCode.OK,
            "the gateway to route demo");
        (await response.Content.ReadAsStringAsync()).Should().Be("pong /hello");

        using var anonymous = await http.GetAsync(new Uri("/api/predict/demo/hello", UriKind.Relative));
        anonymous.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task EmbeddedGateway_GatewaySectionSettings_AreTheOnesItRunsWith()
    {
        // Records:MaxFileBytes from the Gateway section (1 KiB, not the 64 MiB default): a few calls rotate the file.
        await using var backend = await PongBackend.StartAsync();
        var records = Path.Combine(_dir.Path, "records");
        await using var coordinator = await TestCoordinator.StartAsync(Path.Combine(_dir.Path, "data"), embeddedGateway: true, configure: o =>
        {
            o.RecordsDirectory = records;
            o.EmbeddedGatewaySettings.Records.MaxFileBytes = 1024;
        });
        await using var agent = await FakeAgent.ConnectAsync(coordinator.Channel, "node-a");
        var spec = System.Text.Json.Nodes.JsonNode.Parse(Specs.Demo(instances: 1, port: new Uri(backend.Urls.First()).Port))!;
        spec["sinker"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "file" };
        var created = await coordinator.Services.CreateServiceAsync(new CreateServiceRequest { SpecJson = spec.ToJsonString() });
        using var http = new HttpClient { BaseAddress = new Uri(coordinator.GatewayUrl!) };

        var rotated = Path.Combine(records, "demo.jsonl.1");
        await Eventually.UntilAsync(
            async () =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/api/predict/demo/hello") { Content = new StringContent(new string('x', 300)) };
                request.Headers.TryAddWithoutValidation("Authorization", created.Token);
                using var response = await http.SendAsync(request);
                return File.Exists(rotated);
            },
            exists => exists,
            "the record file to rotate at 1 KiB");
        new FileInfo(rotated).Length.Should().BeLessThanOrEqualTo(1024);
    }

    [Fact]
    public async Task StopCoordinator_AgentAndGatewayConnected_StopsWithinSeconds()
    {
        var coordinator = await TestCoordinator.StartAsync(_dir.Path, embeddedGateway: true);
        await using var agent = await FakeAgent.ConnectAsync(coordinator.Channel, "node-a");
        var clock = Stopwatch.StartNew();

        await coordinator.DisposeAsync();

        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(5), "open agent and gateway streams must not hold shutdown");
    }
}
