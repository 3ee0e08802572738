using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Tests.Support;

namespace Eas.Node.Coordinator.Tests.Api;

public sealed class RestartSafetyTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task CoordinatorRestart_SameDataDir_ServiceTokenAndInstancesUnchangedAndAgentAdopted()
    {
        ServiceInfo before;
        List<InstanceStatus> running;
        await using (var first = await TestCoordinator.StartAsync(_dir.Path))
        {
            await using var agent = await FakeAgent.ConnectAsync(first.Channel, "node-a");
            await first.Services.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 2) });
            before = await Eventually.UntilAsync(
                () => first.Services.DescribeServiceAsync(new ServiceRef { Name = "demo" }).ResponseAsync,
                s => s.Status == "Running",
                "demo to be Running");
            running = [.. agent.Running.Values.Select(a => FakeAgent.Status(a, InstanceState.Ready))];
        }

        before.Token.Should().HaveLength(43, "32 random bytes in base64url");

        await using var second = await TestCoordinator.StartAsync(_dir.Path);
        var afterRestart = await second.Services.DescribeServiceAsync(new ServiceRef { Name = "demo" });
        afterRestart.Token.Should().Be(before.Token);
        afterRestart.Version.Should().Be(1);

        // The agent kept its instances running across the coordinator restart and reports them on register.
        await using var again = await FakeAgent.ConnectAsync(second.Channel, "node-a", running: running);
        var desired = await Eventually.UntilAsync(() => Task.FromResult(again.LastDesired), d => d is not null, "the desired set");
        desired!.Instances.Select(i => i.InstanceId).Should().BeEquivalentTo(running.Select(r => r.InstanceId));
        var after = await Eventually.UntilAsync(
            () => second.Services.DescribeServiceAsync(new ServiceRef { Name = "demo" }).ResponseAsync,
            s => s.Status == "Running",
            "demo to be Running after the restart");
        after.Instances.Select(i => i.Id).Should().BeEquivalentTo(before.Instances.Select(i => i.Id));
        var feed = new Contracts.V1.Endpoints.EndpointsClient(second.Channel).Watch(new WatchEndpointsRequest());
        (await feed.ResponseStream.MoveNext(CancellationToken.None)).Should().BeTrue();
        feed.ResponseStream.Current.Services.Single().Endpoints.Should().HaveCount(2);
        feed.Dispose();
    }
}
