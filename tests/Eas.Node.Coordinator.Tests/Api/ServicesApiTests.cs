using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Tests.Support;
using Grpc.Core;
using Xunit.Abstractions;

namespace Eas.Node.Coordinator.Tests.Api;

public sealed class ServicesApiTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private TestCoordinator _coordinator = null!;

    private Services.ServicesClient Api => _coordinator.Services;

    // No deregistration delay: a removed instance leaves the agent's desired set at once, so the sets show the surge exactly.
    public async Task InitializeAsync() => _coordinator = await TestCoordinator.StartAsync(_dir.Path, configure: o => o.DeregistrationDelaySeconds = 0);

    public async Task DisposeAsync()
    {
        await _coordinator.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task CreateService_InvalidSpec_ReturnsEveryErrorAndStoresNothing()
    {
        const string spec = """{"metadata": {"name": "X", "instance": -1}, "containers": [{"image": "host", "script": "true", "port": 8080}]}""";

        var call = () => Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = spec }).ResponseAsync;

        var error = (await call.Should().ThrowAsync<RpcException>()).Which;
        error.StatusCode.Should().Be(StatusCode.InvalidArgument);
        var lines = error.Status.Detail.Split('\n');
        lines.Should().HaveCountGreaterThanOrEqualTo(3, "the name, the instance count and the port are each wrong");
        lines.Should().Contain(l => l.StartsWith("metadata.name", StringComparison.Ordinal))
            .And.Contain(l => l.StartsWith("metadata.instance", StringComparison.Ordinal))
            .And.Contain(l => l.StartsWith("containers[0].port", StringComparison.Ordinal));
        (await Api.ListServicesAsync(new ListServicesRequest())).Services.Should().BeEmpty();
        (await Api.ListEventsAsync(new ListEventsRequest())).Events.Should().BeEmpty();
    }

    [Fact]
    public async Task CreateService_TwoInstances_RunningWithinTwoSecondsAndFeedHasReadyEndpoints()
    {
        await using var agent = await FakeAgent.ConnectAsync(_coordinator.Channel, "node-a");
        using var feed = new Contracts.V1.Endpoints.EndpointsClient(_coordinator.Channel).Watch(new WatchEndpointsRequest { Gateway = "test" });

        // A first deploy warms the process (JIT, first gRPC calls), so that the clock measures the deploy path.
        await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(name: "warmup", instances: 1) });
        await WaitForReadyAsync("warmup", 1);
        var clock = Stopwatch.StartNew();

        var created = await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo() });
        var running = await Eventually.UntilAsync(
            () => Api.DescribeServiceAsync(new ServiceRef { Name = "demo" }).ResponseAsync,
            s => s.Status == "Running",
            "demo to be Running");
        clock.Stop();
        output.WriteLine($"create to 2 Ready instances: {clock.Elapsed.TotalMilliseconds:0} ms");

        created.Version.Should().Be(1);
        created.Endpoint.Should().Be("http://127.0.0.1:8080/api/predict/demo");
        running.Replicas.Should().BeEquivalentTo(new Replicas { Desired = 2, Ready = 2, Total = 2 });
        running.Instances.Should().HaveCount(2).And.OnlyContain(i => i.Node == "node-a" && i.State == InstanceState.Ready);
        running.Instances.Select(i => i.Id).Should().OnlyContain(id => System.Text.RegularExpressions.Regex.IsMatch(id, "^demo-[0-9a-f]{8}$"));
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(2), "create to two Ready instances must take at most 2 s");

        var route = await EndpointFeeds.NextRouteAsync(feed, "demo", r => r.Endpoints.Count == 2);
        route.TokenSha256.ToByteArray().Should().Equal(SHA256.HashData(Encoding.UTF8.GetBytes(running.Token)));
        route.KeepaliveMs.Should().Be(5000);
        route.Endpoints.Select(e => e.Address).Should().OnlyContain(a => a == "127.0.0.1:8000");

        var assignment = agent.LastDesired!.Instances.First(i => i.Service == "demo");
        assignment.Spec.Image.Should().Be("host");
        assignment.Spec.Script.Should().Be("python3 -m http.server 8000");
        assignment.Spec.Env.Should().ContainKey("GREETING").WhoseValue.Should().Be("hello");
        assignment.Spec.Mounts.Should().ContainSingle().Which.Host.Path.Should().Be("/tmp");
        assignment.Spec.MemoryMib.Should().Be(512);
        assignment.Spec.CpuMillis.Should().Be(1000);
    }

    [Fact]
    public async Task CreateService_ExistingName_AlreadyExists()
    {
        await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 0) });

        var call = () => Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 0) }).ResponseAsync;

        (await call.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.AlreadyExists);
    }

    [Fact]
    public async Task CreateService_WithToken_KeepsTheGivenToken()
    {
        var created = await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 0, token: "my-own-token-1234") });

        created.Token.Should().Be("my-own-token-1234");
    }

    [Fact]
    public async Task DescribeService_Unknown_NotFound()
    {
        var call = () => Api.DescribeServiceAsync(new ServiceRef { Name = "nope" }).ResponseAsync;

        (await call.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.NotFound);
    }

    [Fact]
    public async Task ScaleService_UpThenDown_AgentRunsTheNewCountAndEventsSayScaled()
    {
        await using var agent = await FakeAgent.ConnectAsync(_coordinator.Channel, "node-a");
        await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 1) });
        await WaitForReadyAsync("demo", 1);

        await Api.ScaleServiceAsync(new ScaleServiceRequest { Name = "demo", Instances = 3 });
        await WaitForReadyAsync("demo", 3);
        agent.Running.Should().HaveCount(3);

        await Api.ScaleServiceAsync(new ScaleServiceRequest { Name = "demo", Instances = 1 });
        var info = await Eventually.UntilAsync(
            () => Api.DescribeServiceAsync(new ServiceRef { Name = "demo" }).ResponseAsync,
            s => s.Replicas.Total == 1 && s.Status == "Running",
            "demo to shrink to one instance");
        info.Replicas.Desired.Should().Be(1);
        agent.Running.Should().HaveCount(1);
        var events = (await Api.ListEventsAsync(new ListEventsRequest { Service = "demo" })).Events;
        events.Where(e => e.Type == "Scaled").Select(e => e.Message).Should().Equal("scaled from 1 to 3 instance(s)", "scaled from 3 to 1 instance(s)");
        events.Count(e => e.Type == "Stopped").Should().Be(2);
    }

    [Fact]
    public async Task ScaleService_OutOfRange_InvalidArgument()
    {
        await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 0) });

        var call = () => Api.ScaleServiceAsync(new ScaleServiceRequest { Name = "demo", Instances = 1001 }).ResponseAsync;

        (await call.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.InvalidArgument);
    }

    [Fact]
    public async Task StopService_ThenStart_RunsNothingThenTheRememberedCount()
    {
        await using var agent = await FakeAgent.ConnectAsync(_coordinator.Channel, "node-a");
        await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 2) });
        await WaitForReadyAsync("demo", 2);

        await Api.StopServiceAsync(new ServiceRef { Name = "demo" });
        var stopped = await Eventually.UntilAsync(
            () => Api.DescribeServiceAsync(new ServiceRef { Name = "demo" }).ResponseAsync,
            s => s.Status == "Stopped",
            "demo to be Stopped");
        stopped.Replicas.Desired.Should().Be(2);
        stopped.Replicas.Total.Should().Be(0);
        agent.Running.Should().BeEmpty();

        await Api.StartServiceAsync(new ServiceRef { Name = "demo" });
        await WaitForReadyAsync("demo", 2);
        agent.Running.Should().HaveCount(2);
    }

    [Fact]
    public async Task DeleteService_Running_StopsEveryInstanceThenForgetsTheService()
    {
        await using var agent = await FakeAgent.ConnectAsync(_coordinator.Channel, "node-a");
        await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 2) });
        await WaitForReadyAsync("demo", 2);

        var deleted = await Api.DeleteServiceAsync(new ServiceRef { Name = "demo" });

        deleted.Name.Should().Be("demo");
        await Eventually.UntilAsync(
            async () => (await Api.ListServicesAsync(new ListServicesRequest())).Services.Count,
            count => count == 0,
            "demo to disappear");
        agent.Running.Should().BeEmpty();
        agent.LastDesired!.Instances.Should().BeEmpty();
        (await Api.ListEventsAsync(new ListEventsRequest { Service = "demo" })).Events.Select(e => e.Type).Should().Contain("Deleted");
        var describe = () => Api.DescribeServiceAsync(new ServiceRef { Name = "demo" }).ResponseAsync;
        (await describe.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.NotFound);

        // The name is free again.
        (await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 0) })).Version.Should().Be(1);
    }

    [Fact]
    public async Task ModifyService_NewEnv_RollsEveryInstanceToTheNewVersionAndKeepsToken()
    {
        await using var agent = await FakeAgent.ConnectAsync(_coordinator.Channel, "node-a");
        var created = await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 2) });
        await WaitForReadyAsync("demo", 2);

        var modified = await Api.ModifyServiceAsync(new ModifyServiceRequest
        {
            Name = "demo",
            SpecJson = """{"containers": [{"image": "host", "script": "python3 -m http.server 8000", "port": 8000, "env": [{"name": "GREETING", "value": "bonjour"}]}]}""",
        });

        modified.Version.Should().Be(2);
        modified.Token.Should().Be(created.Token);
        var rolled = await Eventually.UntilAsync(
            () => Api.DescribeServiceAsync(new ServiceRef { Name = "demo" }).ResponseAsync,
            s => s.Status == "Running" && s.Instances.Count == 2 && s.Instances.All(i => i.ServiceVersion == 2),
            "every instance to run version 2");
        rolled.Replicas.Ready.Should().Be(2);
        agent.Running.Values.Should().HaveCount(2).And.OnlyContain(a => a.ServiceVersion == 2 && a.Spec.Env["GREETING"] == "bonjour");
        agent.Received.Should().OnlyContain(d => d.Instances.Count <= 3, "the roll adds at most one instance at a time");
        (await _coordinator.Store.ListServiceVersionsAsync("demo")).Select(v => v.Version).Should().Equal(1, 2);
        (await Api.ListEventsAsync(new ListEventsRequest { Service = "demo" })).Events.Should().Contain(e => e.Type == "Modified" && e.Message.StartsWith("modified to version 2;", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ModifyService_Replace_StoresTheGivenSpecWithoutMergingAndKeepsToken()
    {
        var created = await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 0) });
        const string whole = """{"metadata": {"name": "demo", "instance": 0}, "containers": [{"image": "host", "script": "true", "port": 8000}]}""";

        var replaced = await Api.ModifyServiceAsync(new ModifyServiceRequest { Name = "demo", SpecJson = whole, Replace = true });

        replaced.Version.Should().Be(2);
        replaced.Token.Should().Be(created.Token);
        replaced.SpecJson.Should().NotContain("GREETING", "the env of version 1 is not merged back").And.NotContain("/mnt/data");
    }

    [Fact]
    public async Task ModifyService_InvalidPatch_InvalidArgumentAndVersionUnchanged()
    {
        await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 0) });

        var call = () => Api.ModifyServiceAsync(new ModifyServiceRequest { Name = "demo", SpecJson = """{"containers": [{"image": "host", "script": "true", "port": 9090}]}""" }).ResponseAsync;

        (await call.Should().ThrowAsync<RpcException>()).Which.Status.Detail.Should().Contain("containers[0].port");
        (await Api.DescribeServiceAsync(new ServiceRef { Name = "demo" })).Version.Should().Be(1);
    }

    [Fact]
    public async Task CreateService_NoNodeFits_PendingWithSchedulerReasonAndOneEvent()
    {
        await using var agent = await FakeAgent.ConnectAsync(_coordinator.Channel, "small", memoryMib: 256);

        await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 1, memoryMb: 512) });
        var pending = await Eventually.UntilAsync(
            () => Api.DescribeServiceAsync(new ServiceRef { Name = "demo" }).ResponseAsync,
            s => s.Message.Length > 0,
            "demo to say why it is pending");

        pending.Status.Should().Be("Pending");
        pending.Instances.Should().ContainSingle().Which.State.Should().Be(InstanceState.Pending);

        // More passes (a heartbeat wakes the reconciler) must not repeat the event.
        await agent.HeartbeatAsync();
        await Api.ScaleServiceAsync(new ScaleServiceRequest { Name = "demo", Instances = 1 });
        await Task.Delay(200);
        var failures = (await Api.ListEventsAsync(new ListEventsRequest { Service = "demo" })).Events.Where(e => e.Type == "Failed").ToList();
        failures.Should().ContainSingle().Which.Message.Should().StartWith("cannot be scheduled: ");
    }

    [Fact]
    public async Task AgentReports_SameStateTwice_OneEventPerTransition()
    {
        await using var agent = await FakeAgent.ConnectAsync(_coordinator.Channel, "node-a");
        await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 1) });
        await WaitForReadyAsync("demo", 1);
        var assignment = agent.Running.Values.Single();

        await agent.ReportAsync(FakeAgent.Status(assignment, InstanceState.Ready));
        await agent.ReportAsync(FakeAgent.Status(assignment, InstanceState.Starting, restarts: 1, reason: "exited with code 1"));
        await agent.ReportAsync(FakeAgent.Status(assignment, InstanceState.Ready, restarts: 1, reason: "exited with code 1"));
        await agent.ReportAsync(FakeAgent.Status(assignment, InstanceState.Failed, restarts: 1, reason: "image not found"));
        var events = await Eventually.UntilAsync(
            async () => (await Api.ListEventsAsync(new ListEventsRequest { Service = "demo" })).Events.Where(e => e.InstanceId == assignment.InstanceId).Select(e => e.Type).ToList(),
            types => types.Contains("Failed"),
            "the Failed event");

        events.Should().Equal("Scheduled", "Started", "Ready", "Restarted", "Ready", "Failed");
        var failed = await Api.DescribeServiceAsync(new ServiceRef { Name = "demo" });
        failed.Status.Should().Be("Failed");
        failed.Message.Should().Contain("image not found");
    }

    [Fact]
    public async Task WatchEvents_AfterSeq_SendsBacklogThenLiveEvents()
    {
        await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 0) });
        var first = (await Api.ListEventsAsync(new ListEventsRequest { Service = "demo" })).Events.Single();
        await Api.ScaleServiceAsync(new ScaleServiceRequest { Name = "demo", Instances = 0 });
        await Api.StopServiceAsync(new ServiceRef { Name = "demo" });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var watch = Api.WatchEvents(new WatchEventsRequest { Service = "demo", AfterSeq = first.Seq }, cancellationToken: timeout.Token);

        (await watch.ResponseStream.MoveNext(timeout.Token)).Should().BeTrue();
        watch.ResponseStream.Current.Type.Should().Be("Stopping");
        await Api.StartServiceAsync(new ServiceRef { Name = "demo" });
        (await watch.ResponseStream.MoveNext(timeout.Token)).Should().BeTrue();
        watch.ResponseStream.Current.Type.Should().Be("Started");
        watch.ResponseStream.Current.Seq.Should().BeGreaterThan(first.Seq);
    }

    [Fact]
    public async Task ListEvents_Limit_ReturnsTheLatestOldestFirst()
    {
        await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 0) });
        await Api.StopServiceAsync(new ServiceRef { Name = "demo" });
        await Api.StartServiceAsync(new ServiceRef { Name = "demo" });

        var events = (await Api.ListEventsAsync(new ListEventsRequest { Service = "demo", Limit = 2 })).Events;

        events.Select(e => e.Type).Should().Equal("Stopping", "Started");
    }

    [Fact]
    public async Task GetLogs_ConnectedAndDisconnectedNodes_LinesOrPerInstanceError()
    {
        var agent = await FakeAgent.ConnectAsync(_coordinator.Channel, "node-a");
        await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 1) });
        await WaitForReadyAsync("demo", 1);
        var id = agent.Running.Keys.Single();

        var logs = await Api.GetLogsAsync(new GetLogsRequest { Service = "demo" });
        logs.Logs.Should().ContainSingle().Which.Lines.Should().Equal($"hello from {id}");
        logs.Logs[0].Node.Should().Be("node-a");

        await agent.DisposeAsync();
        var down = await Eventually.UntilAsync(
            async () => (await Api.GetLogsAsync(new GetLogsRequest { Service = "demo", InstanceId = id })).Logs.Single(),
            l => l.Error.Length > 0,
            "the log request to fail for a disconnected node");
        down.Error.Should().Contain("node-a");
    }

    [Fact]
    public async Task RestartInstance_One_AgentGetsAGreaterNonceForThatInstanceOnly()
    {
        await using var agent = await FakeAgent.ConnectAsync(_coordinator.Channel, "node-a");
        await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 2) });
        await WaitForReadyAsync("demo", 2);
        var target = agent.Running.Keys.Order(StringComparer.Ordinal).First();

        await Api.RestartInstanceAsync(new RestartInstanceRequest { Service = "demo", InstanceId = target });

        await Eventually.UntilAsync(() => agent.Running[target].RestartNonce == 1, "the restart nonce to reach the agent");
        agent.Running.Where(kv => kv.Key != target).Should().OnlyContain(kv => kv.Value.RestartNonce == 0);
        await Eventually.UntilAsync(
            async () => (await Api.ListEventsAsync(new ListEventsRequest { Service = "demo" })).Events.Any(e => e.Type == "Restarted" && e.InstanceId == target),
            seen => seen,
            "a Restarted event");
    }

    [Fact]
    public async Task ListNodes_RegisteredAgent_ReadyWithCapacityAllocationAndLabels()
    {
        await using var agent = await FakeAgent.ConnectAsync(_coordinator.Channel, "node-a", cpuMillis: 4000, memoryMib: 8192);
        await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 2) });
        await WaitForReadyAsync("demo", 2);

        var node = (await Api.ListNodesAsync(new ListNodesRequest())).Nodes.Single();

        node.Name.Should().Be("node-a");
        node.Status.Should().Be("Ready");
        node.CpuMillis.Should().Be(4000);
        node.MemoryMib.Should().Be(8192);
        node.AllocatedCpuMillis.Should().Be(2000);
        node.AllocatedMemoryMib.Should().Be(1024);
        node.InstanceCount.Should().Be(2);
        node.Labels.Should().ContainKey("zone");
        node.AgentVersion.Should().Be("test");
        (await agent.Ack).HeartbeatIntervalMs.Should().Be(2000);
    }

    private async Task WaitForReadyAsync(string name, int count) =>
        await Eventually.UntilAsync(
            () => Api.DescribeServiceAsync(new ServiceRef { Name = name }).ResponseAsync,
            s => s.Status == "Running" && s.Replicas.Ready == count && s.Replicas.Total == count,
            $"{name} to run {count} Ready instances");
}
