using System.Collections.Concurrent;
using System.Net;
using Eas.Node.Contracts.V1;
using Eas.Node.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Eas.Node.Gateway.Tests.Proxy;

/// <summary>/api/predict/&lt;group&gt; through a real gateway to real loopback instances of two group members.</summary>
public sealed class GroupRoutingTests : IAsyncLifetime
{
    private const string BlueToken = "tok-blue";
    private const string GreenToken = "tok-green";
    private readonly List<Backend> _blue = [];
    private readonly List<Backend> _green = [];
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync()
    {
        for (var i = 0; i < 3; i++)
        {
            _blue.Add(await Backend.StartAsync($"blue-{i}", Answer("blue")));
        }

        _green.Add(await Backend.StartAsync("green-0", Answer("green")));
        _gateway = await GatewayHost.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        foreach (var backend in _blue.Concat(_green))
        {
            await backend.DisposeAsync();
        }
    }

    [Fact]
    public async Task Group_Customized900To100_TenPercentOf10000CallsGoToGreen()
    {
        await _gateway.ApplyAsync(Routes.Snapshot(
            1,
            [Routes.Group("shop", TrafficMode.Customized)],
            Routes.Member("blue", "shop", 900, BlueToken, _blue[0].Address),
            Routes.Member("green", "shop", 100, GreenToken, _green[0].Address)));

        var answers = await CallManyAsync("/api/predict/shop/predict", BlueToken, 10_000);

        answers.Should().NotContainKey("error");
        var greenShare = answers.GetValueOrDefault("green") / 10_000.0;
        greenShare.Should().BeInRange(0.08, 0.12);
        (answers.GetValueOrDefault("blue") + answers.GetValueOrDefault("green")).Should().Be(10_000);
    }

    [Fact]
    public async Task Group_Auto_FollowsReadyInstanceCounts()
    {
        await _gateway.ApplyAsync(Routes.Snapshot(
            1,
            [Routes.Group("shop")],
            Routes.Member("blue", "shop", 0, BlueToken, [.. _blue.Select(b => b.Address)]),
            Routes.Member("green", "shop", 0, GreenToken, _green[0].Address)));

        var answers = await CallManyAsync("/api/predict/shop", GreenToken, 2000);

        (answers.GetValueOrDefault("green") / 2000.0).Should().BeInRange(0.23, 0.27, "green has 1 of the group's 4 Ready instances");

        // One more green instance: 2 of 5.
        await using var green2 = await Backend.StartAsync("green-1", Answer("green"));
        await _gateway.ApplyAsync(Routes.Snapshot(
            2,
            [Routes.Group("shop")],
            Routes.Member("blue", "shop", 0, BlueToken, [.. _blue.Select(b => b.Address)]),
            Routes.Member("green", "shop", 0, GreenToken, _green[0].Address, green2.Address)));

        answers = await CallManyAsync("/api/predict/shop", GreenToken, 2000);

        (answers.GetValueOrDefault("green") / 2000.0).Should().BeInRange(0.37, 0.43, "green now has 2 of 5");
    }

    [Fact]
    public async Task Group_AnyMembersToken_Accepted_OthersRefused_MemberEndpointsKeepTheirOwnToken()
    {
        await _gateway.ApplyAsync(Routes.Snapshot(
            1,
            [Routes.Group("shop")],
            Routes.Member("blue", "shop", 0, BlueToken, _blue[0].Address),
            Routes.Member("green", "shop", 0, GreenToken, _green[0].Address)));

        (await StatusAsync("/api/predict/shop", BlueToken)).Should().Be(HttpStatusCode.OK);
        (await StatusAsync("/api/predict/shop", GreenToken)).Should().Be(HttpStatusCode.OK);
        (await StatusAsync("/api/predict/shop", "wrong")).Should().Be(HttpStatusCode.Unauthorized);
        (await StatusAsync("/api/predict/shop", null)).Should().Be(HttpStatusCode.Unauthorized);
        (await StatusAsync("/api/predict/shop.green", GreenToken)).Should().Be(HttpStatusCode.OK);
        (await StatusAsync("/api/predict/shop.green", BlueToken)).Should().Be(HttpStatusCode.Unauthorized, "a member's own endpoint takes only its token");
        (await StatusAsync("/api/predict/green", GreenToken)).Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task GroupDotService_AndStandaloneMember_ReachOnlyThatMember()
    {
        var green = Routes.Member("green", "shop", 0, GreenToken, _green[0].Address);
        green.Standalone = true;
        await _gateway.ApplyAsync(Routes.Snapshot(1, [Routes.Group("shop")], Routes.Member("blue", "shop", 0, BlueToken, _blue[0].Address), green));

        var direct = await CallManyAsync("/api/predict/shop.green/x", GreenToken, 20);
        var grouped = await CallManyAsync("/api/predict/shop/x", GreenToken, 50);

        direct.Should().Equal(new Dictionary<string, int> { ["green"] = 20 });
        grouped.Should().Equal(new Dictionary<string, int> { ["blue"] = 50 }, "a standalone member takes no group traffic");
        _green[0].Seen.Should().OnlyContain(s => s.Path == "/x", "the member sees the sub path without the group prefix");
    }

    [Fact]
    public async Task Group_NoMemberTakesTraffic_Returns503NamingTheFix()
    {
        await _gateway.ApplyAsync(Routes.Snapshot(1, [Routes.Group("shop", TrafficMode.Customized)], Routes.Member("blue", "shop", 0, BlueToken, _blue[0].Address)));

        using var response = await _gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, "/api/predict/shop", BlueToken));

        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        (await response.Content.ReadAsStringAsync()).Should().Contain("no member of the group").And.Contain("--grouping");
    }

    [Fact]
    public async Task Group_SwitchingWeightsUnderSteadyLoad_ZeroErrors()
    {
        await using var slowBlue = await Backend.StartAsync("slow-blue", async context =>
        {
            await Task.Delay(5);
            await context.Response.WriteAsync("blue");
        });
        await using var slowGreen = await Backend.StartAsync("slow-green", async context =>
        {
            await Task.Delay(5);
            await context.Response.WriteAsync("green");
        });

        EndpointSnapshot Weights(long revision, int blue, int green) => Routes.Snapshot(
            revision,
            [Routes.Group("shop", TrafficMode.Customized)],
            Routes.Member("blue", "shop", blue, BlueToken, slowBlue.Address),
            Routes.Member("green", "shop", green, GreenToken, slowGreen.Address));

        await _gateway.ApplyAsync(Weights(1, 1000, 0));
        using var stop = new CancellationTokenSource();
        var statuses = new ConcurrentDictionary<string, int>();
        var answers = new ConcurrentDictionary<string, int>();
        var load = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var response = await _gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Post, "/api/predict/shop", BlueToken, new StringContent("x")));
                    statuses.AddOrUpdate(((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture), 1, (_, n) => n + 1);
                    answers.AddOrUpdate(await response.Content.ReadAsStringAsync(), 1, (_, n) => n + 1);
                }
                catch (HttpRequestException ex)
                {
                    statuses.AddOrUpdate("exception " + ex.Message, 1, (_, n) => n + 1);
                }
            }
        })).ToList();

        // Flip 0/1000 ↔ 1000/0 twenty times while the callers keep going.
        for (var i = 0; i < 20; i++)
        {
            await Task.Delay(100);
            await _gateway.ApplyAsync(i % 2 == 0 ? Weights(2 + i, 0, 1000) : Weights(2 + i, 1000, 0));
        }

        await Task.Delay(100);
        await stop.CancelAsync();
        await Task.WhenAll(load);

        statuses.Keys.Should().Equal(["200"], "no call may fail while the weights switch");
        statuses["200"].Should().BeGreaterThan(200);
        answers.Keys.Should().BeEquivalentTo(["blue", "green"], "both sides took traffic between switches");
    }

    private static Func<HttpContext, Task> Answer(string text) => context => context.Response.WriteAsync(text);

    private async Task<HttpStatusCode> StatusAsync(string path, string? token)
    {
        using var response = await _gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, path, token));
        return response.StatusCode;
    }

    /// <summary>Sends <paramref name="count"/> calls, 8 at a time, and counts the answers ("error" for a non-200).</summary>
    private async Task<Dictionary<string, int>> CallManyAsync(string path, string token, int count)
    {
        var answers = new ConcurrentDictionary<string, int>();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref next) < count)
            {
                using var response = await _gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, path, token));
                var answer = response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadAsStringAsync() : "error";
                answers.AddOrUpdate(answer, 1, (_, n) => n + 1);
            }
        })));
        return new Dictionary<string, int>(answers);
    }
}
