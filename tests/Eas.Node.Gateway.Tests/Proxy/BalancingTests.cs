using System.Net;
using Eas.Node.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Eas.Node.Gateway.Tests.Proxy;

public sealed class BalancingTests : IAsyncLifetime
{
    private const string Token = "tok-balance";
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Backend _a = null!;
    private Backend _b = null!;
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync()
    {
        // "/hold" requests stay in flight until the test releases them; everything else answers at once.
        _a = await Backend.StartAsync("a", HoldOrAnswer("a"));
        _b = await Backend.StartAsync("b", HoldOrAnswer("b"));
        _gateway = await GatewayHost.StartAsync();
        await _gateway.ApplyAsync(Routes.Snapshot(1, Routes.Service("svc", Token, 0, _a.Address, _b.Address)));
    }

    public async Task DisposeAsync()
    {
        _release.TrySetResult();
        await _gateway.DisposeAsync();
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    [Fact]
    public async Task Invoke_IdleEndpoints_TakeTurns()
    {
        var answers = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            using var response = await _gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, "/api/predict/svc/quick", Token));
            answers.Add(await response.Content.ReadAsStringAsync());
        }

        answers.Count(a => a == "a").Should().Be(5);
        answers.Count(a => a == "b").Should().Be(5);
        answers.Zip(answers.Skip(1)).Should().OnlyContain(pair => pair.First != pair.Second, "ties are broken round-robin");
    }

    [Fact]
    public async Task Invoke_OneEndpointBusy_LessBusyOneTakesTheRest()
    {
        var held = _gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, "/api/predict/svc/hold", Token));
        await WaitUntilAsync(() => _a.Count + _b.Count == 1);
        var busy = _a.Count == 1 ? "a" : "b";
        var idle = busy == "a" ? "b" : "a";

        var answers = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            using var response = await _gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, "/api/predict/svc/quick", Token));
            answers.Add(await response.Content.ReadAsStringAsync());
        }

        answers.Should().OnlyContain(a => a == idle);
        _release.SetResult();
        using var heldResponse = await held;
        heldResponse.StatusCode.Should().Be(HttpStatusCode.OK);
        (await heldResponse.Content.ReadAsStringAsync()).Should().Be(busy);
    }

    private Func<HttpContext, Task> HoldOrAnswer(string name) => async context =>
    {
        if (context.Request.Path == "/hold")
        {
            await _release.Task;
        }

        await context.Response.WriteAsync(name);
    };

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            DateTime.UtcNow.Should().BeBefore(deadline, "the condition should hold within 10 s");
            await Task.Delay(10);
        }
    }
}
