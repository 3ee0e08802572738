using System.Net;
using System.Threading.Channels;
using Eas.Node.Contracts.V1;
using Eas.Node.Gateway.Tests.Infrastructure;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Eas.Node.Gateway.Tests.Feed;

/// <summary>The gateway against a real eas.v1.Endpoints gRPC server on loopback, as it runs against the coordinator.</summary>
public sealed class GrpcFeedTests
{
    [Fact]
    public async Task Watch_CoordinatorStreamsAndRestarts_GatewayFollowsAndReconnects()
    {
        await using var backend = await Backend.StartAsync("b1");
        var coordinator = new FakeEndpointsService();
        await using var server = await StartServerAsync(coordinator);
        var options = new GatewayOptions { Listen = "http://127.0.0.1:0", Coordinator = server.Urls.First(), Name = "gw-under-test" };
        await using var gateway = GatewayApp.Build(options);
        await gateway.StartAsync();
        using var client = new HttpClient { BaseAddress = new Uri(gateway.Urls.First()) };

        // First stream: one snapshot, then a change.
        coordinator.Streams.Writer.TryWrite([Routes.Snapshot(1, Routes.Service("svc", "t", 0, backend.Address))]);
        await GatewayHost.WaitForRevisionAsync(gateway, 1);
        (await SendAsync(client, "/api/predict/svc")).Should().Be(HttpStatusCode.OK);
        coordinator.Gateways.Should().Contain("gw-under-test");

        coordinator.Push(Routes.Snapshot(2, Routes.Service("svc", "t", 0)));
        await GatewayHost.WaitForRevisionAsync(gateway, 2);
        (await SendAsync(client, "/api/predict/svc")).Should().Be(HttpStatusCode.ServiceUnavailable);

        // The coordinator drops the stream: the last table keeps serving until the gateway has watched again.
        coordinator.EndCurrentStream();
        (await SendAsync(client, "/api/predict/svc")).Should().Be(HttpStatusCode.ServiceUnavailable);
        coordinator.Streams.Writer.TryWrite([Routes.Snapshot(3, Routes.Service("svc", "t", 0, backend.Address))]);
        await GatewayHost.WaitForRevisionAsync(gateway, 3);
        (await SendAsync(client, "/api/predict/svc")).Should().Be(HttpStatusCode.OK);

        await gateway.StopAsync();
    }

    private static async Task<HttpStatusCode> SendAsync(HttpClient client, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.TryAddWithoutValidation("Authorization", "t");
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    private static async Task<WebApplication> StartServerAsync(FakeEndpointsService service)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.ConfigureEndpointDefaults(e => e.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(service);
        var app = builder.Build();
        app.Urls.Add("http://127.0.0.1:0");
        app.MapGrpcService<FakeEndpointsService>();
        await app.StartAsync();
        return app;
    }

    /// <summary>
    /// Each Watch call takes the next queued list of snapshots from <see cref="Streams"/>, sends them, then forwards
    /// pushed snapshots until <see cref="EndCurrentStream"/>.
    /// </summary>
    private sealed class FakeEndpointsService : Endpoints.EndpointsBase
    {
        private Channel<EndpointSnapshot>? _current;

        public Channel<EndpointSnapshot[]> Streams { get; } = Channel.CreateUnbounded<EndpointSnapshot[]>();

        public List<string> Gateways { get; } = [];

        public void Push(EndpointSnapshot snapshot) => _current!.Writer.TryWrite(snapshot);

        public void EndCurrentStream() => _current!.Writer.TryComplete();

        public override async Task Watch(WatchEndpointsRequest request, IServerStreamWriter<EndpointSnapshot> responseStream, ServerCallContext context)
        {
            lock (Gateways)
            {
                Gateways.Add(request.Gateway);
            }

            var initial = await Streams.Reader.ReadAsync(context.CancellationToken);
            var live = Channel.CreateUnbounded<EndpointSnapshot>();
            _current = live;
            foreach (var snapshot in initial)
            {
                await responseStream.WriteAsync(snapshot, context.CancellationToken);
            }

            await foreach (var snapshot in live.Reader.ReadAllAsync(context.CancellationToken))
            {
                await responseStream.WriteAsync(snapshot, context.CancellationToken);
            }
        }
    }
}
