using System.Text;
using Eas.Node.Gateway.Llm;
using Eas.Node.Gateway.Routing;
using Microsoft.AspNetCore.Http;

namespace Eas.Node.Gateway.Tests.Llm;

/// <summary>The router behind the gateway's request-aware seam: body buffering, answers, retries, sessions.</summary>
public sealed class LlmRequestPickerTests
{
    private const string ChatPath = "/api/predict/llm/v1/chat/completions";

    [Fact]
    public async Task Pick_ChoosesAnEndpoint_AndLeavesTheBodyForwardable()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(), out _);
        var picker = new LlmRequestPicker(router, new GatewayOptions());
        var service = Service(3);
        var body = LlmTestData.Chat(LlmTestData.Text(1, 4000), "q");
        var context = Context(body);

        var pick = await picker.PickAsync(context, service, CancellationToken.None);

        service.Endpoints.Should().Contain(pick.Endpoint!);
        (await ReadAll(context.Request.Body)).Should().Equal(body);
        pick.Lease.Should().BeOfType<LlmPick>().Which.Lease.Prompt.Kind.Should().Be(LlmRequestKind.Chat);
        pick.Lease!.Dispose();

        var again = await picker.PickAsync(Context(LlmTestData.Chat(LlmTestData.Text(1, 4000), "other question")), service, CancellationToken.None);
        again.Endpoint.Should().BeSameAs(pick.Endpoint, "the prompt's prefix is cached there");
        again.Lease!.Dispose();
        router.GetStatus("llm").Sum(s => s.InFlight).Should().Be(0);
    }

    [Fact]
    public async Task Pick_EveryReplicaSaturatedAndNoQueue_Answers429WithRetryAfter()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(o => (o.MaxInFlightPerReplica, o.QueueCapacity, o.RetryAfterSeconds) = (1, 0, 3)), out _);
        var picker = new LlmRequestPicker(router, new GatewayOptions());
        var service = Service(1);
        var holder = await picker.PickAsync(Context(LlmTestData.Chat("s", "a")), service, CancellationToken.None);
        var context = Context(LlmTestData.Chat("s", "b"));

        var refused = await picker.PickAsync(context, service, CancellationToken.None);

        refused.Endpoint.Should().BeNull();
        refused.Lease.Should().BeNull();
        context.Response.StatusCode.Should().Be(429);
        context.Response.Headers.RetryAfter.ToString().Should().Be("3");
        var text = Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray());
        text.Should().Contain("service llm").And.Contain("Gateway:Llm:QueueCapacity").And.Contain("retry after 3 s");
        holder.Lease!.Dispose();
    }

    [Fact]
    public async Task Pick_RetryExcluding_MovesToAnotherEndpoint_AndRewindsTheBody()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(), out _);
        var picker = new LlmRequestPicker(router, new GatewayOptions());
        var service = Service(2);
        var body = LlmTestData.Chat(LlmTestData.Text(2, 3000), "q");
        var context = Context(body);
        var pick = await picker.PickAsync(context, service, CancellationToken.None);
        await ReadAll(context.Request.Body);

        var other = ((LlmPick)pick.Lease!).RetryExcluding(unreachable: true);

        other.Should().NotBeNull().And.NotBeSameAs(pick.Endpoint);
        (await ReadAll(context.Request.Body)).Should().Equal(body);
        router.GetStatus("llm").Single(s => s.Replica.Tag == pick.Endpoint).Down.Should().BeTrue();
        pick.Lease.Dispose();
    }

    [Fact]
    public async Task Pick_FirstResponseByte_EndsThePendingPrefill()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(), out _);
        var picker = new LlmRequestPicker(router, new GatewayOptions());
        var context = Context(LlmTestData.Completion(LlmTestData.Text(3, 4000), stream: true), "/api/predict/llm/v1/completions");
        var pick = await picker.PickAsync(context, Service(1), CancellationToken.None);
        router.GetStatus("llm").Single().PendingPrefillTokens.Should().Be(1000);

        await context.Response.Body.WriteAsync("data: {}\n\n"u8.ToArray());

        router.GetStatus("llm").Single().PendingPrefillTokens.Should().Be(0);
        pick.Lease!.Dispose();
    }

    [Fact]
    public async Task Pick_SessionHeader_KeepsASessionOnItsEndpoint()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(o => o.SessionHeader = "X-Session-Id"), out _);
        var picker = new LlmRequestPicker(router, new GatewayOptions());
        var service = Service(4);
        var endpoints = new HashSet<EndpointState>();
        for (var i = 0; i < 6; i++)
        {
            var context = Context(LlmTestData.Chat(LlmTestData.Text(100 + i, 2000), "q"));
            context.Request.Headers["X-Session-Id"] = "conversation-7";
            var pick = await picker.PickAsync(context, service, CancellationToken.None);
            endpoints.Add(pick.Endpoint!);
            pick.Lease!.Dispose();
        }

        endpoints.Should().ContainSingle();
    }

    [Fact]
    public async Task Pick_NotACompletionsPath_RoutesByLoadWithoutReadingTheBody()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(), out _);
        var picker = new LlmRequestPicker(router, new GatewayOptions());
        var context = Context("{}"u8.ToArray(), "/api/predict/llm/v1/models");
        context.Request.Method = "GET";

        var pick = await picker.PickAsync(context, Service(2), CancellationToken.None);

        pick.Endpoint.Should().NotBeNull();
        ((LlmPick)pick.Lease!).Lease.Reason.Should().Be(LlmRouteReason.Load);
        context.Request.Body.Position.Should().Be(0, "the body was left to the forwarder");
        pick.Lease.Dispose();
    }

    private static ServiceEntry Service(int endpoints) =>
        new("llm", [], TimeSpan.FromSeconds(5), [.. Enumerable.Range(0, endpoints).Select(i => new EndpointState($"i{i}", $"127.0.0.1:{21000 + i}", "node-a"))]);

    private static DefaultHttpContext Context(byte[] body, string path = ChatPath)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.Path = path;
        context.Request.Body = new MemoryStream(body);
        context.Request.ContentLength = body.Length;
        context.Response.Body = new MemoryStream();
        return context;
    }

    private static async Task<byte[]> ReadAll(Stream stream)
    {
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }
}
