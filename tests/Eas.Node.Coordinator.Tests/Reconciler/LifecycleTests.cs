using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Tests.Support;
using Grpc.Core;
using Microsoft.Extensions.Time.Testing;

namespace Eas.Node.Coordinator.Tests.Reconciler;

/// <summary>Rollouts, rollbacks, deregistration, node loss and drain, through the real coordinator with fake agents.</summary>
public sealed class LifecycleTests : IDisposable
{
    private const string NewGreeting = """{"containers": [{"image": "host", "script": "python3 -m http.server 8000", "port": 8000, "env": [{"name": "GREETING", "value": "bonjour"}]}]}""";

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Modify_NewVersionFails_RolloutPauses_OldKeepsServing_RollbackReturns()
    {
        await using var coordinator = await TestCoordinator.StartAsync(_dir.Path, configure: o => o.DeregistrationDelaySeconds = 0);
        await using var agent = await FakeAgent.ConnectAsync(coordinator.Channel, "node-a");
        var api = coordinator.Services;
        await api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 2) });
        await WaitForAsync(api, s => s.Status == "Running", "version 1 to run");
        agent.FailWhen = a => a.ServiceVersion == 2;

        await api.ModifyServiceAsync(new ModifyServiceRequest { Name = "demo", SpecJson = NewGreeting });

        var paused = await WaitForAsync(api, s => s.Rollout.Paused.Length > 0, "the rollout to pause");
        paused.Rollout.Paused.Should().Contain("failed").And.Contain("exited with code 1");
        paused.Message.Should().StartWith("rollout to version 2 paused");
        paused.Instances.Where(i => i.ServiceVersion == 1).Should().HaveCount(2).And.OnlyContain(i => i.State == InstanceState.Ready);
        paused.Instances.Count(i => i.ServiceVersion == 2).Should().Be(1, "a paused rollout creates nothing more");
        (await api.ListEventsAsync(new ListEventsRequest { Service = "demo" })).Events
            .Should().Contain(e => e.Type == "RolloutPaused" && e.Message.Contains("easctl rollback demo", StringComparison.Ordinal));

        var rolledBack = await api.RollbackServiceAsync(new RollbackServiceRequest { Name = "demo" });

        rolledBack.Version.Should().Be(1);
        var done = await WaitForAsync(api, s => s.Status == "Running" && s.Instances.Count == 2 && !s.Rollout.Active, "the rollback to finish");
        done.Instances.Should().OnlyContain(i => i.ServiceVersion == 1 && i.Restarts == 0, "the version 1 instances were never touched");
        var events = (await api.ListEventsAsync(new ListEventsRequest { Service = "demo" })).Events;
        events.Should().Contain(e => e.Type == "RolledBack" && e.Message == "rolled back from version 2 to version 1");
        events.Should().Contain(e => e.Type == "RolloutDone" && e.Message == "every instance runs version 1");

        agent.FailWhen = _ => false;
        var fixedVersion = await api.ModifyServiceAsync(new ModifyServiceRequest { Name = "demo", SpecJson = NewGreeting });
        fixedVersion.Version.Should().Be(3, "version numbers only grow, whatever a rollback made current");
    }

    [Fact]
    public async Task NewInstanceRestartsBeforeItsFirstReady_PausesAfterThreeRestarts_AndResumesWhenItGetsReady()
    {
        await using var coordinator = await TestCoordinator.StartAsync(_dir.Path, configure: o => o.DeregistrationDelaySeconds = 0);
        await using var agent = await FakeAgent.ConnectAsync(coordinator.Channel, "node-a");
        var api = coordinator.Services;
        await api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 1) });
        await WaitForAsync(api, s => s.Status == "Running", "version 1 to run");
        agent.AutoReady = false;

        await api.ModifyServiceAsync(new ModifyServiceRequest { Name = "demo", SpecJson = NewGreeting });
        var fresh = (await Eventually.UntilAsync(() => Task.FromResult(agent.Running.Values.FirstOrDefault(a => a.ServiceVersion == 2)), a => a is not null, "a version 2 instance"))!;

        await agent.ReportAsync(FakeAgent.Status(fresh, InstanceState.Running, restarts: 1, reason: "killed by signal 9"));
        await Task.Delay(300);
        (await api.DescribeServiceAsync(new ServiceRef { Name = "demo" })).Rollout.Paused.Should().BeEmpty("one restart is not a broken version");

        await agent.ReportAsync(FakeAgent.Status(fresh, InstanceState.Running, restarts: 3, reason: "exited with code 1"));
        var paused = await WaitForAsync(api, s => s.Rollout.Paused.Length > 0, "the rollout to pause after 3 restarts");
        paused.Rollout.Paused.Should().Contain("restarted 3 time(s) without getting Ready");

        await agent.ReportAsync(FakeAgent.Status(fresh, InstanceState.Ready, restarts: 3));
        var done = await WaitForAsync(api, s => !s.Rollout.Active, "the rollout to resume and finish");
        done.Rollout.Paused.Should().BeEmpty();
        (await api.ListEventsAsync(new ListEventsRequest { Service = "demo" })).Events.Select(e => e.Type)
            .Should().ContainInOrder("RolloutPaused", "RolloutResumed", "RolloutDone");
    }

    [Fact]
    public async Task Rollback_NothingEarlier_Or_UnknownVersion_ClearErrors()
    {
        await using var coordinator = await TestCoordinator.StartAsync(_dir.Path);
        var api = coordinator.Services;
        await api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 0) });

        var none = async () => await api.RollbackServiceAsync(new RollbackServiceRequest { Name = "demo" });
        var unknown = async () => await api.RollbackServiceAsync(new RollbackServiceRequest { Name = "demo", ToVersion = 7 });

        (await none.Should().ThrowAsync<RpcException>()).Which.Status.Detail.Should().Contain("no earlier version").And.Contain("--to");
        (await unknown.Should().ThrowAsync<RpcException>()).Which.Status.Detail.Should().Contain("has no version 7");
    }

    [Fact]
    public async Task RestartService_RollsEveryInstanceToANewVersionWithTheSameSpec()
    {
        await using var coordinator = await TestCoordinator.StartAsync(_dir.Path, configure: o => o.DeregistrationDelaySeconds = 0);
        await using var agent = await FakeAgent.ConnectAsync(coordinator.Channel, "node-a");
        var api = coordinator.Services;
        var created = await api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 2) });
        var before = await WaitForAsync(api, s => s.Status == "Running", "version 1 to run");

        var restarted = await api.RestartServiceAsync(new ServiceRef { Name = "demo" });

        restarted.Version.Should().Be(2);
        var after = await WaitForAsync(api, s => s.Status == "Running" && !s.Rollout.Active && s.Instances.All(i => i.ServiceVersion == 2), "every instance to be replaced");
        after.Instances.Select(i => i.Id).Should().NotIntersectWith(before.Instances.Select(i => i.Id));
        after.SpecJson.Should().Be(before.SpecJson, "a restart keeps the spec");
        after.Token.Should().Be(created.Token);
        agent.Received.Should().OnlyContain(d => d.Instances.Count <= 3, "the default surge adds one instance at a time");
    }

    [Fact]
    public async Task ModifyOnlyTheInstanceCount_ScalesWithoutANewVersion()
    {
        await using var coordinator = await TestCoordinator.StartAsync(_dir.Path);
        await using var agent = await FakeAgent.ConnectAsync(coordinator.Channel, "node-a");
        var api = coordinator.Services;
        await api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 1) });
        var before = await WaitForAsync(api, s => s.Status == "Running", "one instance to run");

        var scaled = await api.ModifyServiceAsync(new ModifyServiceRequest { Name = "demo", SpecJson = """{"metadata": {"instance": 3}}""" });

        scaled.Version.Should().Be(1);
        var after = await WaitForAsync(api, s => s.Status == "Running" && s.Replicas.Ready == 3, "three instances to run");
        after.Instances.Should().Contain(i => i.Id == before.Instances.Single().Id, "scaling keeps the instance that runs");
    }

    [Fact]
    public async Task ScaleIn_RemovedInstanceLeavesTheGatewayFirst_AndItsAgentHearsOfItAfterTheDeregistrationDelay()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
        await using var coordinator = await TestCoordinator.StartAsync(_dir.Path, time);
        await using var agent = await FakeAgent.ConnectAsync(coordinator.Channel, "node-a");
        var api = coordinator.Services;
        using var feed = new Contracts.V1.Endpoints.EndpointsClient(coordinator.Channel).Watch(new WatchEndpointsRequest { Gateway = "test" });
        await api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 2) });
        await WaitForAsync(api, s => s.Status == "Running", "two instances to run");

        await api.ScaleServiceAsync(new ScaleServiceRequest { Name = "demo", Instances = 1 });

        var route = await EndpointFeeds.NextRouteAsync(feed, "demo", r => r.Endpoints.Count == 1);
        var removed = (await api.DescribeServiceAsync(new ServiceRef { Name = "demo" })).Instances.Single(i => i.Id != route.Endpoints.Single().InstanceId);
        agent.Running.Should().ContainKey(removed.Id, "the agent is told only after the deregistration delay (2 s), which has not passed");

        time.Advance(TimeSpan.FromSeconds(2.1));
        await Eventually.UntilAsync(() => !agent.Running.ContainsKey(removed.Id), "the agent to be told to stop the removed instance");
        await WaitForAsync(api, s => s.Instances.Count == 1, "the removed instance to be gone");
    }

    [Fact]
    public async Task NodeDown_InstancesReplacedOnAnotherNode_TheLostOnesRoutedUntilThen_AndStoppedWhenTheNodeReturns()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
        await using var coordinator = await TestCoordinator.StartAsync(_dir.Path, time);
        var api = coordinator.Services;
        using var feed = new Contracts.V1.Endpoints.EndpointsClient(coordinator.Channel).Watch(new WatchEndpointsRequest { Gateway = "test" });
        var lostAgent = await FakeAgent.ConnectAsync(coordinator.Channel, "node-a");
        await api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 2) });
        var before = await WaitForAsync(api, s => s.Status == "Running", "two instances on node-a");
        await using var survivor = await FakeAgent.ConnectAsync(coordinator.Channel, "node-b");
        var lostIds = before.Instances.Select(i => i.Id).ToList();
        await lostAgent.DisposeAsync();

        // Down only after the grace; meanwhile the lost instances stay routed (only the agent may be gone).
        time.Advance(TimeSpan.FromSeconds(5));
        (await EndpointFeeds.NextRouteAsync(feed, "demo", r => r.Endpoints.Count == 2)).Endpoints.Select(e => e.InstanceId).Should().BeEquivalentTo(lostIds);
        await Eventually.UntilAsync(
            async () =>
            {
                await survivor.HeartbeatAsync();
                time.Advance(TimeSpan.FromSeconds(1));
                return (await api.ListNodesAsync(new ListNodesRequest())).Nodes.Single(n => n.Name == "node-a").Status;
            },
            status => status == "Down",
            "node-a to be Down past its grace");

        var moved = await WaitForAsync(api, s => s.Instances.Count == 2 && s.Instances.All(i => i.Node == "node-b" && i.State == InstanceState.Ready), "both instances to be Ready on node-b");
        moved.Instances.Select(i => i.Id).Should().NotIntersectWith(lostIds);
        (await EndpointFeeds.NextRouteAsync(feed, "demo", r => r.Endpoints.All(e => e.Node == "node-b"))).Endpoints.Should().HaveCount(2);
        (await api.ListNodesAsync(new ListNodesRequest())).Nodes.Single(n => n.Name == "node-a").Status.Should().Be("Down");
        (await api.ListEventsAsync(new ListEventsRequest())).Events.Should().Contain(e => e.Type == "NodeDown" && e.Node == "node-a");

        // The node comes back still running the old copies: its desired set is empty, so it stops them.
        var running = lostIds.Select(id => new InstanceStatus { InstanceId = id, Service = "demo", ServiceVersion = 1, State = InstanceState.Ready, Ip = "127.0.0.1", Port = 8000 });
        await using var back = await FakeAgent.ConnectAsync(coordinator.Channel, "node-a", running: running);
        await Eventually.UntilAsync(() => back.LastDesired is { Instances.Count: 0 }, "node-a to be told to run nothing");
        (await api.DescribeServiceAsync(new ServiceRef { Name = "demo" })).Instances.Select(i => i.Id).Should().NotIntersectWith(lostIds);
    }

    [Fact]
    public async Task Drain_MovesEveryInstanceOff_CordonKeepsNewOnesAway_UncordonTakesThemAgain()
    {
        await using var coordinator = await TestCoordinator.StartAsync(_dir.Path, configure: o => o.DeregistrationDelaySeconds = 0);
        var api = coordinator.Services;
        await using var first = await FakeAgent.ConnectAsync(coordinator.Channel, "node-a");
        await api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 2) });
        await WaitForAsync(api, s => s.Status == "Running", "two instances on node-a");
        await using var second = await FakeAgent.ConnectAsync(coordinator.Channel, "node-b");

        var draining = await api.DrainNodeAsync(new NodeRef { Name = "node-a" });

        draining.Status.Should().Be("Draining");
        await WaitForAsync(api, s => s.Status == "Running" && s.Instances.Count == 2 && s.Instances.All(i => i.Node == "node-b"), "both instances to move to node-b");
        first.Running.Should().BeEmpty();

        (await api.UncordonNodeAsync(new NodeRef { Name = "node-a" })).Status.Should().Be("Ready");
        (await api.CordonNodeAsync(new NodeRef { Name = "node-b" })).Status.Should().Be("Cordoned");
        await api.ScaleServiceAsync(new ScaleServiceRequest { Name = "demo", Instances = 3 });
        var scaled = await WaitForAsync(api, s => s.Replicas.Ready == 3, "a third instance");
        scaled.Instances.Count(i => i.Node == "node-a").Should().Be(1, "node-b is cordoned, so the new instance goes to node-a");
        scaled.Instances.Count(i => i.Node == "node-b").Should().Be(2, "cordon leaves what runs in place");

        var unknown = async () => await api.DrainNodeAsync(new NodeRef { Name = "node-z" });
        (await unknown.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.NotFound);
    }

    private static Task<ServiceInfo> WaitForAsync(Services.ServicesClient api, Func<ServiceInfo, bool> condition, string what) =>
        Eventually.UntilAsync(() => api.DescribeServiceAsync(new ServiceRef { Name = "demo" }).ResponseAsync, condition, what);
}
