using Eas.Node.Gateway.Routing;

namespace Eas.Node.Gateway.Tests.Routing;

public sealed class ServiceEntryTests
{
    [Fact]
    public void Pick_AllIdle_RoundRobin()
    {
        var service = Service(3);

        var picks = Enumerable.Range(0, 6).Select(_ => service.Pick()!.InstanceId).ToList();

        picks.Distinct().Should().HaveCount(3);
        picks.Take(3).Should().Equal(picks.Skip(3));
    }

    [Fact]
    public void Pick_UnequalLoad_LeastOutstanding()
    {
        var service = Service(3);
        service.Endpoints[0].Enter();
        service.Endpoints[0].Enter();
        service.Endpoints[2].Enter();

        for (var i = 0; i < 5; i++)
        {
            service.Pick()!.InstanceId.Should().Be("i1");
        }
    }

    [Fact]
    public void Pick_Excluded_NeverReturned()
    {
        var service = Service(2);

        for (var i = 0; i < 4; i++)
        {
            service.Pick(exclude: service.Endpoints[1]).Should().BeSameAs(service.Endpoints[0]);
        }

        Service(1).Pick(exclude: null).Should().NotBeNull();
        var single = Service(1);
        single.Pick(exclude: single.Endpoints[0]).Should().BeNull();
        Service(0).Pick().Should().BeNull();
    }

    [Fact]
    public void FromSnapshot_SameEndpoint_KeepsInFlightCounter()
    {
        var first = RouteTable.FromSnapshot(Infrastructure.Routes.Snapshot(1, Infrastructure.Routes.Service("s", "t", 0, "127.0.0.1:1", "127.0.0.1:2")), RouteTable.Empty);
        first.TryGet("s", out var before).Should().BeTrue();
        before!.Endpoints[0].Enter();

        var second = RouteTable.FromSnapshot(Infrastructure.Routes.Snapshot(2, Infrastructure.Routes.Service("s", "t", 0, "127.0.0.1:1", "127.0.0.1:3")), first);

        second.TryGet("s", out var after).Should().BeTrue();
        after!.Endpoints[0].Should().BeSameAs(before.Endpoints[0]);
        after.Endpoints[0].Outstanding.Should().Be(1);
        after.Endpoints[1].Address.Should().Be("127.0.0.1:3");
        after.Keepalive.Should().Be(TimeSpan.FromMilliseconds(RouteTable.DefaultKeepaliveMs));
    }

    [Fact]
    public void FromSnapshot_MalformedAddress_Skipped()
    {
        var table = RouteTable.FromSnapshot(Infrastructure.Routes.Snapshot(1, Infrastructure.Routes.Service("s", "t", 0, "", "bad host:1", "127.0.0.1:8000/path", "127.0.0.1:8000")), RouteTable.Empty);

        table.TryGet("s", out var service).Should().BeTrue();
        service!.Endpoints.Select(e => e.Address).Should().Equal("127.0.0.1:8000");
    }

    private static ServiceEntry Service(int endpoints) => new(
        "s",
        [],
        TimeSpan.FromSeconds(5),
        [.. Enumerable.Range(0, endpoints).Select(i => new EndpointState($"i{i}", $"127.0.0.1:{9000 + i}", "n"))]);
}
