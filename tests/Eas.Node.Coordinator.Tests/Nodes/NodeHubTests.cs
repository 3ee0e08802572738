using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Tests.Support;
using Grpc.Core;
using Microsoft.Extensions.Time.Testing;

namespace Eas.Node.Coordinator.Tests.Nodes;

public sealed class NodeHubTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task SilentNode_PastGrace_DownAndReadyAgainOnHeartbeat()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
        await using var coordinator = await TestCoordinator.StartAsync(_dir.Path, time);
        await using var agent = await FakeAgent.ConnectAsync(coordinator.Channel, "node-a");
        var api = coordinator.Services;
        (await api.ListNodesAsync(new ListNodesRequest())).Nodes.Single().Status.Should().Be("Ready");

        time.Advance(TimeSpan.FromSeconds(5));
        await Task.Delay(100);
        (await api.ListNodesAsync(new ListNodesRequest())).Nodes.Single().Status.Should().Be("Ready", "5 s is within the 10 s grace");

        time.Advance(TimeSpan.FromSeconds(6));
        var down = await Eventually.UntilAsync(
            async () => (await api.ListNodesAsync(new ListNodesRequest())).Nodes.Single(),
            n => n.Status == "Down",
            "node-a to be Down");
        down.LastHeartbeat.ToDateTimeOffset().Should().Be(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));

        await agent.HeartbeatAsync();
        var back = await Eventually.UntilAsync(
            async () => (await api.ListNodesAsync(new ListNodesRequest())).Nodes.Single(),
            n => n.Status == "Ready",
            "node-a to be Ready again");
        back.LastHeartbeat.ToDateTimeOffset().Should().Be(time.GetUtcNow());
    }

    [Fact]
    public async Task DownNode_NewService_NotScheduledThere()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
        await using var coordinator = await TestCoordinator.StartAsync(_dir.Path, time);
        await using var agent = await FakeAgent.ConnectAsync(coordinator.Channel, "node-a");
        time.Advance(TimeSpan.FromSeconds(11));
        await Eventually.UntilAsync(
            async () => (await coordinator.Services.ListNodesAsync(new ListNodesRequest())).Nodes.Single().Status,
            s => s == "Down",
            "node-a to be Down");

        await coordinator.Services.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 1) });
        var pending = await Eventually.UntilAsync(
            () => coordinator.Services.DescribeServiceAsync(new ServiceRef { Name = "demo" }).ResponseAsync,
            s => s.Message.Length > 0,
            "demo to say why it is pending");

        pending.Instances.Single().Node.Should().BeEmpty();
        agent.Running.Should().BeEmpty();
    }

    [Fact]
    public async Task Connect_FirstMessageNotRegister_FailedPrecondition()
    {
        await using var coordinator = await TestCoordinator.StartAsync(_dir.Path);
        using var call = new Contracts.V1.Nodes.NodesClient(coordinator.Channel).Connect();

        await call.RequestStream.WriteAsync(new AgentMessage { Heartbeat = new Heartbeat() });
        var read = () => call.ResponseStream.MoveNext(CancellationToken.None);

        (await read.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.FailedPrecondition);
    }

    [Fact]
    public async Task Register_UnknownRunningInstance_NotInDesiredSetSoTheAgentStopsIt()
    {
        await using var coordinator = await TestCoordinator.StartAsync(_dir.Path);
        var stray = new InstanceStatus { InstanceId = "ghost-12345678", Service = "ghost", ServiceVersion = 1, State = InstanceState.Ready, Ip = "127.0.0.1", Port = 8000 };

        await using var agent = await FakeAgent.ConnectAsync(coordinator.Channel, "node-a", running: [stray]);

        var desired = await Eventually.UntilAsync(() => Task.FromResult(agent.LastDesired), d => d is not null, "the first desired set");
        desired!.Instances.Should().BeEmpty();
        desired.Epoch.Should().Be(1);
        (await coordinator.Store.ListInstancesAsync()).Should().BeEmpty();
    }

    [Fact]
    public async Task DesiredInstances_EveryChange_GenerationGrowsFromWhatTheAgentApplied()
    {
        await using var coordinator = await TestCoordinator.StartAsync(_dir.Path);
        await using var agent = await FakeAgent.ConnectAsync(coordinator.Channel, "node-a");
        await coordinator.Services.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 1) });
        await Eventually.UntilAsync(() => agent.Running.Count == 1, "one instance on the agent");
        await coordinator.Services.ScaleServiceAsync(new ScaleServiceRequest { Name = "demo", Instances = 2 });
        await Eventually.UntilAsync(() => agent.Running.Count == 2, "two instances on the agent");

        var generations = agent.Received.Select(d => d.Generation).ToList();
        generations.Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
        agent.Received.Select(d => d.Instances.Count).Should().Equal(0, 1, 2);
    }
}
