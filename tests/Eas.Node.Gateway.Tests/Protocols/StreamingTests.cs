using System.Net;
using System.Net.WebSockets;
using System.Text;
using Eas.Node.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Eas.Node.Gateway.Tests.Protocols;

/// <summary>Streams (SSE, chunked), rpc.keepalive on streams, WebSocket upgrades and HTTP/2 callers of HTTP/1.1 instances.</summary>
public sealed class StreamingTests : IAsyncLifetime
{
    private const string Token = "tok-stream";
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHost.StartAsync();

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Sse_FirstEventReachesTheCaller_WhileTheStreamIsStillOpen()
    {
        var firstEventSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var sse = await Backend.StartAsync("sse", async context =>
        {
            context.Response.ContentType = "text/event-stream";
            await context.Response.WriteAsync("data: one\n\n");
            await context.Response.Body.FlushAsync();

            // The second event only once the caller has the first: a buffering gateway would deadlock here.
            await firstEventSeen.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await context.Response.WriteAsync("data: two\n\n");
        });
        await _gateway.ApplyAsync(Routes.Snapshot(1, Routes.Service("sse", Token, 0, sse.Address)));

        using var response = await _gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, "/api/predict/sse/events", Token), HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be("text/event-stream");
        await using var body = await response.Content.ReadAsStreamAsync();

        var first = await ReadUntilAsync(body, "\n\n").WaitAsync(TimeSpan.FromSeconds(5));
        first.Should().Be("data: one\n\n");
        firstEventSeen.SetResult();
        var rest = await new StreamReader(body).ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));
        rest.Should().Be("data: two\n\n");
    }

    [Fact]
    public async Task Keepalive_BoundsIdleGaps_NotAStreamThatKeepsMoving()
    {
        await using var ticker = await Backend.StartAsync("ticker", async context =>
        {
            // 8 chunks 150 ms apart: 1.2 s in all, over twice the 500 ms keepalive, never idle for long.
            for (var i = 0; i < 8; i++)
            {
                await context.Response.WriteAsync($"tick {i}\n");
                await context.Response.Body.FlushAsync();
                await Task.Delay(150);
            }
        });
        await _gateway.ApplyAsync(Routes.Snapshot(1, Routes.Service("ticker", Token, keepaliveMs: 500, ticker.Address)));

        using var response = await _gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, "/api/predict/ticker", Token));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().HaveCount(8);
    }

    [Fact]
    public async Task Keepalive_IdleGapLongerThanIt_CutsTheStream_AndCancelsTheInstance()
    {
        var upstreamCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var stall = await Backend.StartAsync("stall", async context =>
        {
            await context.Response.WriteAsync("first\n");
            await context.Response.Body.FlushAsync();
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);
                await context.Response.WriteAsync("too late\n");
            }
            catch (OperationCanceledException)
            {
                upstreamCancelled.TrySetResult();
            }
        });
        await _gateway.ApplyAsync(Routes.Snapshot(1, Routes.Service("stall", Token, keepaliveMs: 500, stall.Address)));

        using var response = await _gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, "/api/predict/stall", Token), HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        await using var body = await response.Content.ReadAsStreamAsync();
        (await ReadUntilAsync(body, "\n")).Should().Be("first\n");

        // The gateway aborts the response after the idle gap: the read fails instead of getting "too late".
        await FluentActions.Awaiting(() => new StreamReader(body).ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(8)))
            .Should().ThrowAsync<IOException>();
        await upstreamCancelled.Task.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task WebSocket_UpgradePassesThrough_EchoBothWays()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        app.UseWebSockets();
        app.Run(async context =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = 400;
                return;
            }

            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[1024];
            while (true)
            {
                var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                    return;
                }

                var echo = Encoding.UTF8.GetBytes($"echo {context.Request.Path}: " + Encoding.UTF8.GetString(buffer, 0, received.Count));
                await socket.SendAsync(echo, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
            }
        });
        await app.StartAsync();
        var address = new Uri(app.Urls.Single()).Authority;
        await _gateway.ApplyAsync(Routes.Snapshot(1, Routes.Service("ws", Token, keepaliveMs: 300, address)));

        using var client = new ClientWebSocket();
        client.Options.SetRequestHeader("Authorization", Token);
        var url = new UriBuilder(_gateway.BaseAddress) { Scheme = "ws", Path = "/api/predict/ws/chat" }.Uri;
        await client.ConnectAsync(url, CancellationToken.None);

        var answers = new List<string>();
        foreach (var text in new[] { "hello", "again" })
        {
            await client.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
            var buffer = new byte[1024];
            var received = await client.ReceiveAsync(buffer, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
            answers.Add(Encoding.UTF8.GetString(buffer, 0, received.Count));

            // Idle longer than the service's 300 ms keepalive: an open WebSocket is not a slow request.
            await Task.Delay(600);
        }

        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        answers.Should().Equal("echo /chat: hello", "echo /chat: again");
        client.CloseStatus.Should().Be(WebSocketCloseStatus.NormalClosure);
    }

    [Fact]
    public async Task Http2Caller_PriorKnowledge_ReachesAnHttp11Instance()
    {
        await using var backend = await Backend.StartAsync("b1");
        await _gateway.ApplyAsync(Routes.Snapshot(1, Routes.Service("echo", Token, 0, backend.Address)));
        using var http2 = new HttpClient { BaseAddress = _gateway.BaseAddress, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };

        using var request = GatewayHost.Request(HttpMethod.Post, "/api/predict/echo/x?y=1", Token, new StringContent("body"));
        request.Version = HttpVersion.Version20;
        request.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
        using var response = await http2.SendAsync(request);

        response.Version.Should().Be(HttpVersion.Version20);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).Should().Be("b1 /x?y=1\nbody");
        backend.Seen.Single().Headers.Should().NotContainKey("Authorization");

        // HTTP/1.1 callers on the same listener are unaffected.
        using var http1 = await _gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, "/api/predict/echo", Token));
        http1.Version.Should().Be(HttpVersion.Version11);
        http1.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    private static async Task<string> ReadUntilAsync(Stream stream, string terminator)
    {
        var text = new StringBuilder();
        var buffer = new byte[1];
        while (!text.ToString().EndsWith(terminator, StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer);
            if (read == 0)
            {
                break;
            }

            text.Append((char)buffer[0]);
        }

        return text.ToString();
    }
}
