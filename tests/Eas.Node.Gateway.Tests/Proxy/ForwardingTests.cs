using System.Net;
using System.Text;
using Eas.Node.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Eas.Node.Gateway.Tests.Proxy;

public sealed class ForwardingTests : IAsyncLifetime
{
    private const string Token = "tok-forwarding";
    private Backend _backend = null!;
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync()
    {
        _backend = await Backend.StartAsync("b1");
        _gateway = await GatewayHost.StartAsync();
        await _gateway.ApplyAsync(Routes.Snapshot(1, Routes.Service("echo", Token, 0, _backend.Address)));
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _backend.DisposeAsync();
    }

    [Fact]
    public async Task Forward_SubPathQueryAndBody_ReachEndpointUnchanged()
    {
        using var request = GatewayHost.Request(HttpMethod.Put, "/api/predict/echo/v1/models/m%20x:predict?a=1&b=two%20words", Token,
            new StringContent("{\"x\":[1,2]}", Encoding.UTF8, "application/json"));
        request.Headers.Add("X-Custom", "kept");

        using var response = await _gateway.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).Should().Be("b1 /v1/models/m%20x:predict?a=1&b=two%20words\n{\"x\":[1,2]}");
        var seen = _backend.Seen.Single();
        seen.Method.Should().Be("PUT");
        seen.Path.Should().Be("/v1/models/m%20x:predict");
        seen.Query.Should().Be("?a=1&b=two%20words");
        seen.Headers["X-Custom"].Should().Be("kept");
        seen.Headers["Content-Type"].Should().Be("application/json; charset=utf-8");
        Encoding.UTF8.GetString(seen.Body).Should().Be("{\"x\":[1,2]}");
    }

    [Theory]
    [InlineData("/api/predict/echo", "/", "")]
    [InlineData("/api/predict/echo/", "/", "")]
    [InlineData("/api/predict/echo?q=1", "/", "?q=1")]
    public async Task Forward_NoSubPath_SendsRoot(string path, string expectedPath, string expectedQuery)
    {
        using var response = await _gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, path, Token));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var seen = _backend.Seen.Single();
        seen.Path.Should().Be(expectedPath);
        seen.Query.Should().Be(expectedQuery);
    }

    [Fact]
    public async Task Forward_AuthorizationHeader_NotForwardedAndForwardedForAdded()
    {
        using var request = GatewayHost.Request(HttpMethod.Get, "/api/predict/echo/x", Token);

        using var response = await _gateway.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var seen = _backend.Seen.Single();
        seen.Headers.Should().NotContainKey("Authorization");
        seen.Headers["X-Forwarded-For"].Should().Be("127.0.0.1");
    }

    [Fact]
    public async Task Forward_ExistingForwardedFor_ClientAddressAppended()
    {
        using var request = GatewayHost.Request(HttpMethod.Get, "/api/predict/echo/x", Token);
        request.Headers.Add("X-Forwarded-For", "203.0.113.7");

        using var response = await _gateway.Client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        _backend.Seen.Single().Headers["X-Forwarded-For"].Should().Be("203.0.113.7, 127.0.0.1");
    }

    [Fact]
    public async Task Forward_BackendStatusAndHeaders_ReachCaller()
    {
        await using var teapot = await Backend.StartAsync("teapot", async context =>
        {
            context.Response.StatusCode = 418;
            context.Response.Headers["X-From-Backend"] = "yes";
            await context.Response.WriteAsync("short and stout");
        });
        await _gateway.ApplyAsync(Routes.Snapshot(2, Routes.Service("tea", Token, 0, teapot.Address)));

        using var response = await _gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, "/api/predict/tea", Token));

        ((int)response.StatusCode).Should().Be(418);
        response.Headers.GetValues("X-From-Backend").Should().Equal("yes");
        (await response.Content.ReadAsStringAsync()).Should().Be("short and stout");
    }
}
