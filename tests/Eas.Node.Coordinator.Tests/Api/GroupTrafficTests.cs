using System.Text.Json.Nodes;
using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Tests.Support;
using Grpc.Core;

namespace Eas.Node.Coordinator.Tests.Api;

/// <summary>Service groups through the admin API and the endpoint feed: bookkeeping, weights, traffic modes, LLM routers.</summary>
public sealed class GroupTrafficTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private TestCoordinator _coordinator = null!;

    private Services.ServicesClient Api => _coordinator.Services;

    public async Task InitializeAsync() => _coordinator = await TestCoordinator.StartAsync(_dir.Path, configure: o => o.DeregistrationDelaySeconds = 0);

    public async Task DisposeAsync()
    {
        await _coordinator.DisposeAsync();
        _dir.Dispose();
    }

    /// <summary>A service spec in <paramref name="group"/> (none when null), with extra <paramref name="metadata"/> keys and <paramref name="top"/>-level keys.</summary>
    internal static string Member(string name, string? group, int instances = 1, JsonObject? metadata = null, JsonObject? top = null)
    {
        var meta = new JsonObject { ["name"] = name, ["instance"] = instances, ["cpu"] = 0.5, ["memory"] = 256 };
        if (group is not null)
        {
            meta["group"] = group;
        }

        foreach (var (key, value) in metadata ?? [])
        {
            meta[key] = value?.DeepClone();
        }

        var spec = new JsonObject
        {
            ["metadata"] = meta,
            ["containers"] = new JsonArray(new JsonObject { ["image"] = "host", ["script"] = "python3 -m http.server 8000", ["port"] = 8000 }),
        };
        foreach (var (key, value) in top ?? [])
        {
            spec[key] = value?.DeepClone();
        }

        return spec.ToJsonString();
    }

    private static string Router(string name, string group) =>
        new JsonObject { ["metadata"] = new JsonObject { ["name"] = name, ["type"] = "LLMGatewayService", ["group"] = group } }.ToJsonString();

    private Task<ServiceInfo> CreateAsync(string spec) => Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = spec }).ResponseAsync;

    [Fact]
    public async Task Group_CreatedWithFirstMember_RemovedWithLast()
    {
        (await Api.ListGroupsAsync(new ListGroupsRequest())).Groups.Should().BeEmpty();

        var first = await CreateAsync(Member("blue", "chat"));
        await CreateAsync(Member("green", "chat"));
        await CreateAsync(Member("other", null));

        first.Group.Should().Be("chat");
        first.Weight.Should().Be(100);
        first.TrafficState.Should().Be("grouping");
        var group = (await Api.ListGroupsAsync(new ListGroupsRequest())).Groups.Should().ContainSingle().Subject;
        group.Name.Should().Be("chat");
        group.TrafficMode.Should().Be("auto");
        group.Endpoint.Should().Be("http://127.0.0.1:8080/api/predict/chat");
        group.Members.Select(m => (m.Service, m.Weight, m.TrafficState)).Should().Equal(("blue", 100, "grouping"), ("green", 100, "grouping"));
        group.Members[0].Endpoint.Should().Be("http://127.0.0.1:8080/api/predict/chat.blue");
        (await Api.DescribeServiceAsync(new ServiceRef { Name = "other" })).Group.Should().BeEmpty();

        await Api.DeleteServiceAsync(new ServiceRef { Name = "blue" });
        (await Api.DescribeGroupAsync(new GroupRef { Name = "chat" })).Members.Select(m => m.Service).Should().Equal("green");

        await Api.DeleteServiceAsync(new ServiceRef { Name = "green" });
        (await Api.ListGroupsAsync(new ListGroupsRequest())).Groups.Should().BeEmpty();
        var error = (await FluentActions.Awaiting(() => Api.DescribeGroupAsync(new GroupRef { Name = "chat" }).ResponseAsync)
            .Should().ThrowAsync<RpcException>()).Which;
        error.StatusCode.Should().Be(StatusCode.NotFound);
        error.Status.Detail.Should().Contain("group 'chat' does not exist").And.Contain("easctl group list");
        (await Api.ListEventsAsync(new ListEventsRequest { Service = "green" })).Events
            .Should().Contain(e => e.Type == "GroupLeft" && e.Message.Contains("the group is removed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Modify_ToAnotherGroup_LeavesTheOldOneAndJoinsTheNew()
    {
        await CreateAsync(Member("blue", "g_one"));

        var modified = await Api.ModifyServiceAsync(new ModifyServiceRequest { Name = "blue", SpecJson = """{"metadata": {"group": "g_two"}}""" });

        modified.Group.Should().Be("g_two");
        (await Api.ListGroupsAsync(new ListGroupsRequest())).Groups.Select(g => g.Name).Should().Equal("g_two");
        var events = (await Api.ListEventsAsync(new ListEventsRequest { Service = "blue" })).Events;
        events.Should().Contain(e => e.Type == "GroupLeft" && e.Message.Contains("g_one", StringComparison.Ordinal));
        events.Should().Contain(e => e.Type == "GroupJoined" && e.Message.Contains("g_two", StringComparison.Ordinal));

        var left = await Api.ModifyServiceAsync(new ModifyServiceRequest { Name = "blue", SpecJson = """{"metadata": {"group": null}}""" });

        left.Group.Should().BeEmpty();
        left.TrafficState.Should().BeEmpty();
        (await Api.ListGroupsAsync(new ListGroupsRequest())).Groups.Should().BeEmpty();
    }

    [Fact]
    public async Task Rollback_ToAVersionInAnotherGroup_MovesTheService()
    {
        await CreateAsync(Member("blue", "g_one"));
        await Api.ModifyServiceAsync(new ModifyServiceRequest { Name = "blue", SpecJson = """{"metadata": {"group": "g_two"}}""" });

        var back = await Api.RollbackServiceAsync(new RollbackServiceRequest { Name = "blue" });

        back.Group.Should().Be("g_one");
        (await Api.ListGroupsAsync(new ListGroupsRequest())).Groups.Select(g => g.Name).Should().Equal("g_one");
    }

    [Fact]
    public async Task Join_CustomizedGroup_StartsWithWeightZero()
    {
        await CreateAsync(Member("blue", "chat"));
        var customized = await Api.SetGroupTrafficAsync(new SetGroupTrafficRequest { Name = "chat", Mode = "customized" });

        var green = await CreateAsync(Member("green", "chat"));

        customized.TrafficMode.Should().Be("customized");
        green.Weight.Should().Be(0, "a member joining a customized group takes no group traffic until it is released");
        green.TrafficState.Should().Be("grouping");
        var group = await Api.DescribeGroupAsync(new GroupRef { Name = "chat" });
        group.Members.Select(m => (m.Service, m.Weight)).Should().Equal(("blue", 100), ("green", 0));
        (await Api.ListEventsAsync(new ListEventsRequest { Service = "green" })).Events
            .Should().Contain(e => e.Type == "GroupJoined" && e.Message.Contains("weight 0", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Release_SetsWeightAndState_WithEasMessage()
    {
        await CreateAsync(Member("blue", "chat"));
        await Api.SetGroupTrafficAsync(new SetGroupTrafficRequest { Name = "chat", Mode = "customized" });

        var released = await Api.ReleaseServiceAsync(new ReleaseServiceRequest { Name = "blue", Weight = 40 });
        var standalone = await Api.ReleaseServiceAsync(new ReleaseServiceRequest { Name = "blue", TrafficState = "standalone" });

        released.Message.Should().Be("Releasing service [blue] with weight [40]");
        released.Group.Members.Single().Weight.Should().Be(40);
        standalone.Message.Should().Be("Releasing service [blue] with weight [40] and traffic state [standalone]");
        var info = await Api.DescribeServiceAsync(new ServiceRef { Name = "blue" });
        (info.Weight, info.TrafficState).Should().Be((40, "standalone"));
        (await Api.ListEventsAsync(new ListEventsRequest { Service = "blue" })).Events.Should().Contain(e => e.Type == "Released");
    }

    [Fact]
    public async Task Release_InAutoGroup_SaysWhenTheWeightApplies()
    {
        await CreateAsync(Member("blue", "chat"));

        var released = await Api.ReleaseServiceAsync(new ReleaseServiceRequest { Name = "blue", Weight = 0 });

        released.Message.Should().StartWith("Releasing service [blue] with weight [0]; group [chat] splits traffic by Ready instances (auto mode)")
            .And.Contain("easctl group traffic chat --mode customized");
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1001)]
    public async Task Release_WeightOutOfRange_InvalidArgumentNamingTheRule(int weight)
    {
        await CreateAsync(Member("blue", "chat"));

        var error = await ErrorOf(() => Api.ReleaseServiceAsync(new ReleaseServiceRequest { Name = "blue", Weight = weight }).ResponseAsync);

        error.StatusCode.Should().Be(StatusCode.InvalidArgument);
        error.Status.Detail.Should().Be($"weight: {weight} is out of range; a weight is 0 to 1000 (0 takes no group traffic in customized mode)");
        (await Api.DescribeServiceAsync(new ServiceRef { Name = "blue" })).Weight.Should().Be(100);
    }

    [Fact]
    public async Task Release_BadRequests_SayWhatToDo()
    {
        await CreateAsync(Member("alone", null));

        var unknown = await ErrorOf(() => Api.ReleaseServiceAsync(new ReleaseServiceRequest { Name = "nope", Weight = 1 }).ResponseAsync);
        var noGroup = await ErrorOf(() => Api.ReleaseServiceAsync(new ReleaseServiceRequest { Name = "alone", Weight = 1 }).ResponseAsync);
        var nothing = await ErrorOf(() => Api.ReleaseServiceAsync(new ReleaseServiceRequest { Name = "alone" }).ResponseAsync);
        var badState = await ErrorOf(() => Api.ReleaseServiceAsync(new ReleaseServiceRequest { Name = "alone", TrafficState = "solo" }).ResponseAsync);

        unknown.StatusCode.Should().Be(StatusCode.NotFound);
        unknown.Status.Detail.Should().Contain("service 'nope' does not exist");
        noGroup.StatusCode.Should().Be(StatusCode.FailedPrecondition);
        noGroup.Status.Detail.Should().Contain("is in no group").And.Contain("metadata.group");
        nothing.StatusCode.Should().Be(StatusCode.InvalidArgument);
        nothing.Status.Detail.Should().Contain("needs a weight, a traffic state, or both");
        badState.StatusCode.Should().Be(StatusCode.InvalidArgument);
        badState.Status.Detail.Should().Contain("'solo' is not a traffic state").And.Contain("grouping").And.Contain("standalone");
    }

    [Fact]
    public async Task SetGroupTraffic_BadRequests_NotFoundAndInvalidArgument()
    {
        await CreateAsync(Member("blue", "chat"));

        var unknown = await ErrorOf(() => Api.SetGroupTrafficAsync(new SetGroupTrafficRequest { Name = "nope", Mode = "auto" }).ResponseAsync);
        var badMode = await ErrorOf(() => Api.SetGroupTrafficAsync(new SetGroupTrafficRequest { Name = "chat", Mode = "weighted" }).ResponseAsync);

        unknown.StatusCode.Should().Be(StatusCode.NotFound);
        unknown.Status.Detail.Should().Contain("group 'nope' does not exist");
        badMode.StatusCode.Should().Be(StatusCode.InvalidArgument);
        badMode.Status.Detail.Should().Contain("'weighted' is not a traffic mode").And.Contain("auto").And.Contain("customized");
    }

    [Fact]
    public async Task DescribeGroup_Shares_FollowInstancesInAutoAndWeightsInCustomized()
    {
        await using var agent = await FakeAgent.ConnectAsync(_coordinator.Channel, "node-a");
        await CreateAsync(Member("blue", "chat", instances: 2));
        await CreateAsync(Member("green", "chat", instances: 1));
        await WaitForReadyAsync("blue", 2);
        await WaitForReadyAsync("green", 1);

        var auto = await Api.DescribeGroupAsync(new GroupRef { Name = "chat" });
        await Api.SetGroupTrafficAsync(new SetGroupTrafficRequest { Name = "chat", Mode = "customized" });
        await Api.ReleaseServiceAsync(new ReleaseServiceRequest { Name = "green", Weight = 300 });
        var customized = await Api.DescribeGroupAsync(new GroupRef { Name = "chat" });
        await Api.ReleaseServiceAsync(new ReleaseServiceRequest { Name = "blue", TrafficState = "standalone" });
        var standalone = await Api.DescribeGroupAsync(new GroupRef { Name = "chat" });

        auto.Members.Select(m => (m.Service, m.Ready, m.Desired, m.SharePercent)).Should().Equal(("blue", 2, 2, 66.67), ("green", 1, 1, 33.33));
        customized.Members.Select(m => (m.Service, m.Weight, m.SharePercent)).Should().Equal(("blue", 100, 25.0), ("green", 300, 75.0));
        standalone.Members.Select(m => m.SharePercent).Should().Equal(0.0, 100.0);
    }

    [Fact]
    public async Task Feed_RoutesCarryEveryTrafficField_AndGroupsTheirMode()
    {
        await using var agent = await FakeAgent.ConnectAsync(_coordinator.Channel, "node-a");
        using var feed = new Contracts.V1.Endpoints.EndpointsClient(_coordinator.Channel).Watch(new WatchEndpointsRequest { Gateway = "test" });
        await CreateAsync(Member("blue", "chat", instances: 1,
            metadata: new JsonObject
            {
                ["enable_grpc"] = true,
                ["routing"] = "round_robin",
                ["rpc"] = new JsonObject { ["rate_limit"] = 20, ["max_queue_size"] = 2, ["keepalive"] = 9000 },
            },
            top: new JsonObject
            {
                ["networking"] = new JsonObject
                {
                    ["gateway_policy"] = new JsonObject
                    {
                        ["rate_limit"] = new JsonObject { ["enable"] = true, ["limit"] = 1000 },
                        ["concurrency_limit"] = new JsonObject { ["enable"] = false, ["limit"] = 7 },
                    },
                },
                ["sinker"] = new JsonObject { ["type"] = "otlp", ["config"] = new JsonObject { ["endpoint"] = "http://127.0.0.1:4318", ["max_body_bytes"] = 4096 } },
            }));
        await CreateAsync(Member("plain", null));

        var snapshot = await NextSnapshotAsync(feed, s => Route(s, "blue")?.Endpoints.Count == 1 && Route(s, "plain") is not null);

        var blue = Route(snapshot, "blue")!;
        blue.Group.Should().Be("chat");
        blue.GroupWeight.Should().Be(100);
        blue.Standalone.Should().BeFalse();
        blue.Grpc.Should().BeTrue();
        blue.InstanceRateLimit.Should().Be(20);
        blue.MaxQueueSize.Should().Be(2);
        blue.KeepaliveMs.Should().Be(9000);
        blue.ServiceRateLimit.Should().Be(1000);
        blue.ConcurrencyLimit.Should().Be(0, "the concurrency limit is not enabled");
        blue.Sinker.Should().Be(new Sinker { Type = "otlp", OtlpEndpoint = "http://127.0.0.1:4318", MaxBodyBytes = 4096 });
        blue.Routing.Should().Be(RoutingPolicy.RoundRobin);
        blue.Type.Should().Be("Standard");
        var plain = Route(snapshot, "plain")!;
        (plain.Group, plain.GroupWeight, plain.Grpc, plain.MaxQueueSize, plain.InstanceRateLimit, plain.Routing)
            .Should().Be(("", 0, false, 64, 0, RoutingPolicy.LeastRequests));
        plain.Sinker.Should().BeNull("the service keeps no call records");
        snapshot.Groups.Should().Equal(new GroupRoute { Name = "chat", TrafficMode = TrafficMode.Auto, Routing = RoutingPolicy.LeastRequests });
    }

    [Fact]
    public async Task Feed_WeightModeAndStateChanges_PublishNewSnapshots()
    {
        using var feed = new Contracts.V1.Endpoints.EndpointsClient(_coordinator.Channel).Watch(new WatchEndpointsRequest { Gateway = "test" });
        await CreateAsync(Member("blue", "chat"));
        await CreateAsync(Member("green", "chat"));
        await NextSnapshotAsync(feed, s => Route(s, "green") is not null);

        await Api.SetGroupTrafficAsync(new SetGroupTrafficRequest { Name = "chat", Mode = "customized" });
        var customized = await NextSnapshotAsync(feed, s => s.Groups.Any(g => g.Name == "chat" && g.TrafficMode == TrafficMode.Customized));
        await Api.ReleaseServiceAsync(new ReleaseServiceRequest { Name = "green", Weight = 900 });
        var weighted = await NextSnapshotAsync(feed, s => Route(s, "green")?.GroupWeight == 900);
        await Api.ReleaseServiceAsync(new ReleaseServiceRequest { Name = "blue", TrafficState = "standalone" });
        var standalone = await NextSnapshotAsync(feed, s => Route(s, "blue")?.Standalone == true);

        weighted.Revision.Should().BeGreaterThan(customized.Revision);
        standalone.Revision.Should().BeGreaterThan(weighted.Revision);
        Route(standalone, "green")!.GroupWeight.Should().Be(900);
        standalone.Groups.Single().TrafficMode.Should().Be(TrafficMode.Customized);
    }

    [Fact]
    public async Task LlmGatewayService_RunsNoInstances_AndMakesTheGroupRouteLlm()
    {
        await using var agent = await FakeAgent.ConnectAsync(_coordinator.Channel, "node-a");
        using var feed = new Contracts.V1.Endpoints.EndpointsClient(_coordinator.Channel).Watch(new WatchEndpointsRequest { Gateway = "test" });
        await CreateAsync(Member("qwen", "chat", instances: 1));
        await WaitForReadyAsync("qwen", 1);

        var router = await CreateAsync(Router("chat_router", "chat"));
        var snapshot = await NextSnapshotAsync(feed, s => s.Groups.Any(g => g.Name == "chat" && g.Routing == RoutingPolicy.Llm));

        router.Type.Should().Be("LLMGatewayService");
        router.Status.Should().Be("Running");
        router.Replicas.Desired.Should().Be(0);
        router.SpecJson.Should().NotContain("containers");
        Route(snapshot, "chat_router")!.Type.Should().Be("LLMGatewayService");
        Route(snapshot, "chat_router")!.Endpoints.Should().BeEmpty();
        var group = await Api.DescribeGroupAsync(new GroupRef { Name = "chat" });
        group.Routing.Should().Be("llm");
        group.Members.Single(m => m.Service == "chat_router").SharePercent.Should().Be(0);
        group.Members.Single(m => m.Service == "qwen").SharePercent.Should().Be(100);
        var scale = await ErrorOf(() => Api.ScaleServiceAsync(new ScaleServiceRequest { Name = "chat_router", Instances = 2 }).ResponseAsync);
        scale.StatusCode.Should().Be(StatusCode.FailedPrecondition);
        scale.Status.Detail.Should().Contain("LLMGatewayService").And.Contain("runs no instances");

        // A later reconcile pass (the qwen scale) still places nothing for the router.
        await Api.ScaleServiceAsync(new ScaleServiceRequest { Name = "qwen", Instances = 2 });
        await WaitForReadyAsync("qwen", 2);
        (await Api.ListInstancesAsync(new ServiceRef { Name = "chat_router" })).Instances.Should().BeEmpty();
        agent.Received.SelectMany(d => d.Instances).Should().NotContain(i => i.Service == "chat_router");
    }

    [Fact]
    public async Task LlmRouting_ByAMembersSpec_AlsoMakesTheGroupRouteLlm()
    {
        await CreateAsync(Member("qwen", "chat", metadata: new JsonObject { ["routing"] = "llm" }));

        var group = await Api.DescribeGroupAsync(new GroupRef { Name = "chat" });

        group.Routing.Should().Be("llm");
    }

    [Fact]
    public async Task Groups_SurviveARestart_WithModeAndWeights()
    {
        await CreateAsync(Member("blue", "chat"));
        await Api.SetGroupTrafficAsync(new SetGroupTrafficRequest { Name = "chat", Mode = "customized" });
        await Api.ReleaseServiceAsync(new ReleaseServiceRequest { Name = "blue", Weight = 250, TrafficState = "standalone" });

        await _coordinator.DisposeAsync();
        _coordinator = await TestCoordinator.StartAsync(_dir.Path);

        var group = await Api.DescribeGroupAsync(new GroupRef { Name = "chat" });
        group.TrafficMode.Should().Be("customized");
        group.Members.Select(m => (m.Service, m.Weight, m.TrafficState)).Should().Equal(("blue", 250, "standalone"));
    }

    private static ServiceRoute? Route(EndpointSnapshot snapshot, string name) => snapshot.Services.FirstOrDefault(s => s.Name == name);

    private static async Task<EndpointSnapshot> NextSnapshotAsync(AsyncServerStreamingCall<EndpointSnapshot> feed, Func<EndpointSnapshot, bool> condition)
    {
        using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
        while (await feed.ResponseStream.MoveNext(timeout.Token))
        {
            if (condition(feed.ResponseStream.Current))
            {
                return feed.ResponseStream.Current;
            }
        }

        throw new InvalidOperationException("the endpoint feed ended");
    }

    private static async Task<RpcException> ErrorOf(Func<Task> call) =>
        (await FluentActions.Awaiting(call).Should().ThrowAsync<RpcException>()).Which;

    private async Task WaitForReadyAsync(string name, int count) =>
        await Eventually.UntilAsync(
            () => Api.DescribeServiceAsync(new ServiceRef { Name = name }).ResponseAsync,
            s => s.Replicas.Ready == count && s.Replicas.Total == count,
            $"{name} to run {count} Ready instances");
}
