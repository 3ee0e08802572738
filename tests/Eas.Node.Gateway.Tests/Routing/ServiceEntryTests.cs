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
    public void Pick_RoundRobin_TakesTurnsWhateverTheLoad()
    {
        var service = Service(3, routing: Contracts.V1.RoutingPolicy.RoundRobin);
        service.Endpoints[1].Enter();
        service.Endpoints[1].Enter();

        var picks = Enumerable.Range(0, 6).Select(_ => service.Pick()!.InstanceId).ToList();

        picks.Distinct().Should().HaveCount(3, "round-robin ignores the load");
        picks.Take(3).Should().Equal(picks.Skip(3));
    }

    [Theory]
    [InlineData(Contracts.V1.RoutingPolicy.LeastRequests)]
    [InlineData(Contracts.V1.RoutingPolicy.RoundRobin)]
    [InlineData(Contracts.V1.RoutingPolicy.Llm)]
    public void Pick_InstancesAtMaxQueueSize_Skipped_NullWhenAllAre(Contracts.V1.RoutingPolicy routing)
    {
        var service = Service(2, maxQueue: 2, routing: routing);
        service.Endpoints[0].TryEnter(2).Should().BeTrue();
        service.Endpoints[0].TryEnter(2).Should().BeTrue();
        service.Endpoints[0].TryEnter(2).Should().BeFalse("two are in flight already");

        Enumerable.Range(0, 4).Select(_ => service.Pick()).Should().OnlyContain(e => e == service.Endpoints[1]);

        service.Endpoints[1].TryEnter(2).Should().BeTrue();
        service.Endpoints[1].TryEnter(2).Should().BeTrue();
        service.Pick().Should().BeNull();
        service.Endpoints[1].Exit();
        service.Pick().Should().BeSameAs(service.Endpoints[1]);
    }

    [Fact]
    public void TryEnter_Concurrent_NeverExceedsTheLimit()
    {
        var endpoint = new EndpointState("i", "127.0.0.1:1", "n");
        var entered = 0;

        Parallel.For(0, 10_000, _ =>
        {
            if (endpoint.TryEnter(64))
            {
                Interlocked.Increment(ref entered);
            }
        });

        entered.Should().Be(64);
        endpoint.Outstanding.Should().Be(64);
    }

    [Fact]
    public void GrpcService_ForwardsWithHttp2Exactly_OthersWithHttp11OrLower()
    {
        var grpc = new ServiceEntry("g", [], TimeSpan.FromSeconds(5), [], grpc: true);
        var plain = Service(1);

        grpc.RequestConfig.Version.Should().Be(System.Net.HttpVersion.Version20);
        grpc.RequestConfig.VersionPolicy.Should().Be(HttpVersionPolicy.RequestVersionExact);
        plain.RequestConfig.Version.Should().Be(System.Net.HttpVersion.Version11);
        plain.UpgradeRequestConfig.ActivityTimeout.Should().Be(ServiceEntry.UpgradeIdleTimeout);
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

    private static ServiceEntry Service(int endpoints, int maxQueue = ServiceEntry.DefaultMaxQueueSize, Contracts.V1.RoutingPolicy routing = Contracts.V1.RoutingPolicy.LeastRequests) => new(
        "s",
        [],
        TimeSpan.FromSeconds(5),
        [.. Enumerable.Range(0, endpoints).Select(i => new EndpointState($"i{i}", $"127.0.0.1:{9000 + i}", "n"))])
    {
        MaxQueueSize = maxQueue,
        Routing = routing,
    };
}
