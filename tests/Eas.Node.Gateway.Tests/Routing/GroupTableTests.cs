using Eas.Node.Contracts.V1;
using Eas.Node.Gateway.Routing;
using Eas.Node.Gateway.Tests.Infrastructure;

namespace Eas.Node.Gateway.Tests.Routing;

/// <summary>Service groups in the routing table: name resolution and the member split.</summary>
public sealed class GroupTableTests
{
    [Fact]
    public void TryResolve_GroupDotService_GroupName_ServiceName()
    {
        var table = Table(
            1,
            [Routes.Group("g")],
            Routes.Member("blue", "g", 100, "t1", "127.0.0.1:1"),
            Routes.Member("green", "g", 100, "t2", "127.0.0.1:2"),
            Routes.Service("solo", null, 0, "127.0.0.1:3"));

        table.TryResolve("g.blue", out var member, out var group).Should().BeTrue();
        member!.Name.Should().Be("blue");
        group.Should().BeNull();

        table.TryResolve("g", out member, out group).Should().BeTrue();
        group!.Name.Should().Be("g");
        group.Members.Select(m => m.Name).Should().Equal("blue", "green");
        member.Should().BeNull();

        table.TryResolve("green", out member, out _).Should().BeTrue("a member keeps its own endpoint");
        member!.Name.Should().Be("green");
        table.TryResolve("solo", out member, out _).Should().BeTrue();
        member!.Name.Should().Be("solo");

        table.TryResolve("g.solo", out _, out _).Should().BeFalse("solo is not a member of g");
        table.TryResolve("h.blue", out _, out _).Should().BeFalse("blue is not in group h");
        table.TryResolve("g.", out _, out _).Should().BeFalse();
        table.TryResolve("nosuch", out _, out _).Should().BeFalse();
    }

    [Fact]
    public void TryResolve_GroupAndServiceWithTheSameName_GroupWins()
    {
        var table = Table(1, [], Routes.Member("x", "x", 100, null, "127.0.0.1:1"), Routes.Member("y", "x", 100, null, "127.0.0.1:2"));

        table.TryResolve("x", out var service, out var group).Should().BeTrue();
        group!.Name.Should().Be("x");
        service.Should().BeNull();
        table.TryResolve("x.x", out service, out _).Should().BeTrue();
        service!.Name.Should().Be("x");
    }

    [Fact]
    public void PickMember_Customized900To100_ExactlyTenPercentPerThousand()
    {
        var group = GroupOf(
            TrafficMode.Customized,
            Routes.Member("blue", "g", 900, null, "127.0.0.1:1"),
            Routes.Member("green", "g", 100, null, "127.0.0.1:2"));

        var picks = Enumerable.Range(0, 10_000).Select(_ => group.PickMember()!.Name).ToList();

        picks.Count(p => p == "green").Should().Be(1000);
        for (var window = 0; window < 10; window++)
        {
            picks.Skip(window * 1000).Take(1000).Count(p => p == "green").Should().Be(100, "every 1000 consecutive requests hold the exact split");
        }

        // Interleaved, not in runs: the longest run of blue stays short.
        LongestRun(picks, "blue").Should().BeLessThan(20);
    }

    [Fact]
    public void PickMember_Auto_FollowsReadyInstanceCounts()
    {
        var group = GroupOf(
            TrafficMode.Auto,
            Routes.Member("blue", "g", 0, null, "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"),
            Routes.Member("green", "g", 0, null, "127.0.0.1:4"));

        var picks = Enumerable.Range(0, 4000).Select(_ => group.PickMember()!.Name).ToList();

        picks.Count(p => p == "blue").Should().Be(3000);
        picks.Count(p => p == "green").Should().Be(1000);
    }

    [Fact]
    public void PickMember_StandaloneEmptyAndZeroWeightMembers_NeverPicked()
    {
        var standalone = Routes.Member("side", "g", 500, null, "127.0.0.1:1");
        standalone.Standalone = true;
        var group = GroupOf(
            TrafficMode.Customized,
            standalone,
            Routes.Member("empty", "g", 500, null),
            Routes.Member("zero", "g", 0, null, "127.0.0.1:2"),
            Routes.Member("main", "g", 10, null, "127.0.0.1:3"));

        Enumerable.Range(0, 100).Select(_ => group.PickMember()!.Name).Should().OnlyContain(n => n == "main");

        var none = GroupOf(TrafficMode.Customized, Routes.Member("zero", "g", 0, null, "127.0.0.1:2"));
        none.PickMember().Should().BeNull();
    }

    [Fact]
    public void FromSnapshot_WeightSwitch_KeepsEndpointCountersAndServiceState()
    {
        var first = Table(1, [Routes.Group("g", TrafficMode.Customized)], Routes.Member("blue", "g", 1000, null, "127.0.0.1:1"), Routes.Member("green", "g", 0, null, "127.0.0.1:2"));
        first.TryGet("blue", out var blueBefore).Should().BeTrue();
        blueBefore!.Endpoints[0].Enter();

        var second = RouteTable.FromSnapshot(
            Routes.Snapshot(2, [Routes.Group("g", TrafficMode.Customized)], Routes.Member("blue", "g", 0, null, "127.0.0.1:1"), Routes.Member("green", "g", 1000, null, "127.0.0.1:2")),
            first);

        second.TryGet("blue", out var blueAfter).Should().BeTrue();
        blueAfter!.Endpoints[0].Should().BeSameAs(blueBefore.Endpoints[0]);
        blueAfter.Endpoints[0].Outstanding.Should().Be(1);
        blueAfter.Shared.Should().BeSameAs(blueBefore.Shared);
        second.TryGetGroup("g", out var group).Should().BeTrue();
        Enumerable.Range(0, 10).Select(_ => group!.PickMember()!.Name).Should().OnlyContain(n => n == "green");
    }

    [Fact]
    public void GroupTokens_AnyMembersToken_OpenOnlyWhenEveryMemberIs()
    {
        var group = GroupOf(TrafficMode.Auto, Routes.Member("a", "g", 0, "ta", "127.0.0.1:1"), Routes.Member("b", "g", 0, null, "127.0.0.1:2"));
        group.Tokens.IsOpen.Should().BeFalse();
        Gateway.Proxy.TokenCheck.IsAuthorized("ta", group.Tokens).Should().BeTrue();
        Gateway.Proxy.TokenCheck.IsAuthorized("tb", group.Tokens).Should().BeFalse();

        GroupOf(TrafficMode.Auto, Routes.Member("a", "g", 0, null, "127.0.0.1:1")).Tokens.IsOpen.Should().BeTrue();
    }

    private static RouteTable Table(long revision, GroupRoute[] groups, params ServiceRoute[] services) =>
        RouteTable.FromSnapshot(Routes.Snapshot(revision, groups, services), RouteTable.Empty);

    private static GroupEntry GroupOf(TrafficMode mode, params ServiceRoute[] members)
    {
        var table = Table(1, [Routes.Group("g", mode)], members);
        table.TryGetGroup("g", out var group).Should().BeTrue();
        return group!;
    }

    private static int LongestRun(List<string> picks, string name)
    {
        int longest = 0, run = 0;
        foreach (var pick in picks)
        {
            run = pick == name ? run + 1 : 0;
            longest = Math.Max(longest, run);
        }

        return longest;
    }
}
