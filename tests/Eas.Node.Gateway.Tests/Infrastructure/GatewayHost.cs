using Eas.Node.Contracts.V1;
using Eas.Node.Gateway.Routing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Eas.Node.Gateway.Tests.Infrastructure;

/// <summary>A gateway built with GatewayApp.Build on 127.0.0.1:0, fed through <see cref="ChannelFeed"/>.</summary>
public sealed class GatewayHost : IAsyncDisposable
{
    private GatewayHost(WebApplication app, ChannelFeed feed, HttpClient client)
    {
        App = app;
        Feed = feed;
        Client = client;
    }

    public WebApplication App { get; }

    public ChannelFeed Feed { get; }

    public HttpClient Client { get; }

    public Uri BaseAddress => Client.BaseAddress!;

    public static async Task<GatewayHost> StartAsync(Action<GatewayOptions>? configure = null, Action<WebApplicationBuilder>? configureBuilder = null)
    {
        var options = new GatewayOptions { Listen = "http://127.0.0.1:0", Name = "test-gateway" };
        configure?.Invoke(options);
        var feed = new ChannelFeed();
        var app = GatewayApp.Build(options, feed, loggerFactory: null, configureBuilder);
        await app.StartAsync();
        var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromSeconds(20) };
        return new GatewayHost(app, feed, client);
    }

    /// <summary>Pushes a snapshot and waits until the gateway serves it.</summary>
    public async Task ApplyAsync(EndpointSnapshot snapshot)
    {
        Feed.Push(snapshot);
        await WaitForRevisionAsync(App, snapshot.Revision);
    }

    public static async Task WaitForRevisionAsync(WebApplication app, long revision)
    {
        var store = app.Services.GetRequiredService<RouteStore>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (store.Current.Revision != revision || !store.Current.Received)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the gateway did not apply revision {revision} (it has {store.Current.Revision})");
            }

            await Task.Delay(10);
        }
    }

    public static HttpRequestMessage Request(HttpMethod method, string path, string? authorization = null, HttpContent? content = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        return request;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
