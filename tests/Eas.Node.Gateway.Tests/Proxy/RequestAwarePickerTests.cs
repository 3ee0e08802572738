using System.Net;
using Eas.Node.Contracts.V1;
using Eas.Node.Gateway.Routing;
using Eas.Node.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Eas.Node.Gateway.Tests.Proxy;

/// <summary>The seam the LLM router plugs into: asked only for ROUTING_POLICY_LLM, its lease ends with the request.</summary>
public sealed class RequestAwarePickerTests : IAsyncLifetime
{
    private readonly FakePicker _picker = new();
    private Backend _a = null!;
    private Backend _b = null!;
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync()
    {
        _a = await Backend.StartAsync("a", c => c.Response.WriteAsync("a"));
        _b = await Backend.StartAsync("b", c => c.Response.WriteAsync("b"));
        _gateway = await GatewayHost.StartAsync(configureBuilder: b => b.Services.AddSingleton<IRequestAwarePicker>(_picker));
        var llm = Routes.Service("llm", null, 0, _a.Address, _b.Address);
        llm.Routing = RoutingPolicy.Llm;
        await _gateway.ApplyAsync(Routes.Snapshot(1, llm, Routes.Service("plain", null, 0, _a.Address, _b.Address)));
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    [Fact]
    public async Task LlmService_PickerChoosesTheEndpoint_LeaseDisposedWhenTheResponseEnds()
    {
        _picker.Choose = service => service.Endpoints[1];

        var answers = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            answers.Add(await _gateway.Client.GetStringAsync("/api/predict/llm/v1/completions"));
        }

        answers.Should().OnlyContain(a => a == "b");
        _picker.Asked.Should().Be(4);
        await EventuallyAsync(() => _picker.LeasesDisposed == 4);
    }

    [Fact]
    public async Task OtherServices_NeverAskThePicker()
    {
        _picker.Choose = service => service.Endpoints[1];

        var answers = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            answers.Add(await _gateway.Client.GetStringAsync("/api/predict/plain"));
        }

        _picker.Asked.Should().Be(0);
        answers.Should().Contain("a").And.Contain("b");
    }

    [Fact]
    public async Task PickerWithoutAnEndpoint_FallsBackToLeastRequests()
    {
        _picker.Choose = _ => null;

        using var response = await _gateway.Client.GetAsync("/api/predict/llm");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        await EventuallyAsync(() => _picker.LeasesDisposed == 1);
    }

    [Fact]
    public async Task PickerAnswersItself_ThatAnswerReachesTheCaller()
    {
        _picker.Answer = async context =>
        {
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            context.Response.Headers.RetryAfter = "1";
            await context.Response.WriteAsync("queue full");
        };

        using var response = await _gateway.Client.GetAsync("/api/predict/llm");

        response.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        response.Headers.RetryAfter!.Delta.Should().Be(TimeSpan.FromSeconds(1));
        (await response.Content.ReadAsStringAsync()).Should().Be("queue full");
        (_a.Count + _b.Count).Should().Be(0);
    }

    [Fact]
    public async Task InstanceGoneBeforeAnswering_RetryablePickMovesTheRequest_OthersGet502()
    {
        // An engine killed while it holds a request: the connection closes before any response byte.
        await using var dying = await Backend.StartAsync("dying", c =>
        {
            c.Abort();
            return Task.CompletedTask;
        });
        var llm = Routes.Service("llm2", null, 0, dying.Address, _b.Address);
        llm.Routing = RoutingPolicy.Llm;
        await _gateway.ApplyAsync(Routes.Snapshot(2, llm, Routes.Service("plain2", null, 0, dying.Address)));
        _picker.Choose = service => service.Endpoints[0];
        _picker.Retry = service => service.Endpoints[1];

        using var moved = await _gateway.Client.PostAsync("/api/predict/llm2/v1/completions", new StringContent("{\"prompt\":\"hi\"}"));
        using var plain = await _gateway.Client.PostAsync("/api/predict/plain2", new StringContent("x"));

        moved.StatusCode.Should().Be(HttpStatusCode.OK);
        (await moved.Content.ReadAsStringAsync()).Should().Be("b", "the picker's next choice answered");
        _picker.Retried.Should().Be(1);
        plain.StatusCode.Should().Be(HttpStatusCode.BadGateway, "without a request-aware pick the request is not sent again");
        dying.Count.Should().Be(2);
    }

    /// <summary>The handler disposes the lease after the response ended, which may be just after the caller has it.</summary>
    private static async Task EventuallyAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        condition().Should().BeTrue();
    }

    private sealed class FakePicker : IRequestAwarePicker
    {
        private int _asked;
        private int _disposed;
        private int _retried;

        public Func<ServiceEntry, EndpointState?> Choose { get; set; } = _ => null;

        public Func<HttpContext, Task>? Answer { get; set; }

        /// <summary>When set, leases are <see cref="IRetryablePick"/> and a retry goes where this says.</summary>
        public Func<ServiceEntry, EndpointState?>? Retry { get; set; }

        public int Retried => Volatile.Read(ref _retried);

        public int Asked => Volatile.Read(ref _asked);

        public int LeasesDisposed => Volatile.Read(ref _disposed);

        public async ValueTask<RequestAwarePick> PickAsync(HttpContext context, ServiceEntry service, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _asked);
            if (Answer is not null)
            {
                await Answer(context);
                return default;
            }

            if (Retry is null)
            {
                return new RequestAwarePick(Choose(service), new Lease(this));
            }

            // A picker that retries must be able to send the body again, as the LLM picker's buffered body can.
            context.Request.EnableBuffering();
            return new RequestAwarePick(Choose(service), new RetryableLease(this, service, context.Request));
        }

        private class Lease(FakePicker owner) : IDisposable
        {
            protected FakePicker Owner { get; } = owner;

            public void Dispose() => Interlocked.Increment(ref Owner._disposed);
        }

        private sealed class RetryableLease(FakePicker owner, ServiceEntry service, HttpRequest request) : Lease(owner), IRetryablePick
        {
            public EndpointState? RetryExcluding(bool unreachable)
            {
                Interlocked.Increment(ref Owner._retried);
                request.Body.Position = 0;
                return Owner.Retry!(service);
            }
        }
    }
}
