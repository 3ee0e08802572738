using System.Net;
using Eas.Node.Gateway.Tests.Infrastructure;

namespace Eas.Node.Gateway.Tests.Feed;

public sealed class RoutingTableTests
{
    [Fact]
    public async Task Apply_NewSnapshot_ReplacesTheWholeTable()
    {
        await using var one = await Backend.StartAsync("one");
        await using var two = await Backend.StartAsync("two");
        await using var gateway = await GatewayHost.StartAsync();
        await gateway.ApplyAsync(Routes.Snapshot(1, Routes.Service("first", "t1", 0, one.Address)));

        using (var before = await gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, "/api/predict/first", "t1")))
        {
            (await before.Content.ReadAsStringAsync()).Should().StartWith("one ");
        }

        await gateway.ApplyAsync(Routes.Snapshot(2,
            Routes.Service("second", "t2", 0, one.Address),
            Routes.Service("first2", "t1", 0, two.Address)));

        using var gone = await gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, "/api/predict/first", "t1"));
        gone.StatusCode.Should().Be(HttpStatusCode.NotFound);
        using var added = await gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, "/api/predict/second", "t2"));
        added.StatusCode.Should().Be(HttpStatusCode.OK);
        using var oldToken = await gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, "/api/predict/second", "t1"));
        oldToken.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Apply_EndpointMoved_TrafficFollows()
    {
        await using var one = await Backend.StartAsync("one");
        await using var two = await Backend.StartAsync("two");
        await using var gateway = await GatewayHost.StartAsync();
        await gateway.ApplyAsync(Routes.Snapshot(1, Routes.Service("svc", "t", 0, one.Address)));
        await gateway.ApplyAsync(Routes.Snapshot(2, Routes.Service("svc", "t", 0, two.Address)));

        using var response = await gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, "/api/predict/svc", "t"));

        (await response.Content.ReadAsStringAsync()).Should().StartWith("two ");
        one.Count.Should().Be(0);
    }

    [Fact]
    public async Task Build_StaticRoutesFile_ServesItsTable()
    {
        await using var backend = await Backend.StartAsync("static");
        var file = Path.Combine(Path.GetTempPath(), $"eas-gateway-routes-{Guid.NewGuid():N}.json");
        var hash = Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData("st"u8));
        await File.WriteAllTextAsync(file, $$"""{"revision": 7, "services": [{"name": "s", "tokenSha256": "{{hash}}", "endpoints": [{"instanceId": "s-0", "address": "{{backend.Address}}"}]}]}""");
        try
        {
            await using var app = GatewayApp.Build(new GatewayOptions { Listen = "http://127.0.0.1:0", StaticRoutes = file });
            await app.StartAsync();
            await GatewayHost.WaitForRevisionAsync(app, 7);
            using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/predict/s/x");
            request.Headers.TryAddWithoutValidation("Authorization", "st");

            using var response = await client.SendAsync(request);

            response.StatusCode.Should().Be(HttpStatusCode.OK);
            (await response.Content.ReadAsStringAsync()).Should().StartWith("static /x");
            await app.StopAsync();
        }
        finally
        {
            File.Delete(file);
        }
    }
}
