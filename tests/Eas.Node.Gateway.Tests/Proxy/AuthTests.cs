using System.Net;
using Eas.Node.Gateway.Tests.Infrastructure;

namespace Eas.Node.Gateway.Tests.Proxy;

public sealed class AuthTests : IAsyncLifetime
{
    private const string Token = "MzY3YTc5ZTZhYjE3NGQ0OWE2NDc0ZGIwYTQ0YjI5N2M=";
    private Backend _backend = null!;
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync()
    {
        _backend = await Backend.StartAsync("b1");
        _gateway = await GatewayHost.StartAsync();
        await _gateway.ApplyAsync(Routes.Snapshot(1,
            Routes.Service("secured", Token, 0, _backend.Address),
            Routes.Service("open", token: null, 0, _backend.Address)));
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _backend.DisposeAsync();
    }

    [Theory]
    [InlineData(Token)]
    [InlineData("Bearer " + Token)]
    [InlineData("bearer " + Token)]
    public async Task Invoke_RawOrBearerToken_Forwarded(string authorization)
    {
        using var response = await _gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, "/api/predict/secured", authorization));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        _backend.Count.Should().Be(1);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("wrong-token")]
    [InlineData("Bearer wrong-token")]
    [InlineData("Bearer ")]
    [InlineData(Token + "x")]
    public async Task Invoke_MissingOrWrongToken_Returns401WithoutForwarding(string? authorization)
    {
        using var response = await _gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, "/api/predict/secured/x", authorization));

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await response.Content.ReadAsStringAsync()).Should().Contain("Authorization failed");
        _backend.Count.Should().Be(0);
    }

    [Fact]
    public async Task Invoke_ServiceWithoutToken_ForwardedWithoutAuthorization()
    {
        using var response = await _gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, "/api/predict/open"));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
    }
}
