using System.Net;
using Eas.Node.Gateway.Tests.Infrastructure;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Eas.Node.Gateway.Tests.Protocols;

/// <summary>
/// gRPC through the gateway: a real Grpc.AspNetCore service on loopback (HTTP/2 only, as an instance with
/// metadata.enable_grpc) and a Grpc.Net.Client caller speaking cleartext HTTP/2 to the gateway.
/// </summary>
public sealed class GrpcTests : IAsyncLifetime
{
    private const string Token = "tok-grpc";
    private WebApplication _instance = null!;
    private GatewayHost _gateway = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        _instance = builder.Build();
        _instance.MapGrpcService<EchoService>();
        await _instance.StartAsync();
        var address = new Uri(_instance.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single()).Authority;

        _gateway = await GatewayHost.StartAsync();
        var route = Routes.Service("grpc_svc", Token, 2000, address);
        route.Grpc = true;
        await _gateway.ApplyAsync(Routes.Snapshot(1, route));
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _instance.StopAsync();
        await _instance.DisposeAsync();
    }

    [Fact]
    public async Task Unary_WithServiceHeader_AnsweredByTheInstance_WithoutTheToken()
    {
        using var channel = GrpcChannel.ForAddress(_gateway.BaseAddress);
        var client = new Echo.EchoClient(channel);

        var reply = await client.SayAsync(new EchoRequest { Text = "hello" }, Headers("grpc_svc"));

        reply.Text.Should().Be("hello");
        reply.Path.Should().Be("/easgatewaytest.Echo/Say", "the gRPC path goes to the instance unchanged");
        reply.SawAuthorization.Should().BeFalse("the token is for the gateway");
    }

    [Fact]
    public async Task ServerStreaming_WithServiceHeader_EveryMessageArrives()
    {
        using var channel = GrpcChannel.ForAddress(_gateway.BaseAddress);
        var client = new Echo.EchoClient(channel);

        using var call = client.Count(new CountRequest { Count = 5, DelayMs = 50 }, Headers("grpc_svc"));
        var texts = new List<string>();
        await foreach (var reply in call.ResponseStream.ReadAllAsync())
        {
            texts.Add(reply.Text);
        }

        texts.Should().Equal("0", "1", "2", "3", "4");
        call.GetStatus().StatusCode.Should().Be(StatusCode.OK, "the trailers came through");
    }

    [Fact]
    public async Task Unary_UnderThePredictPath_WithABasePathHandler()
    {
        using var channel = GrpcChannel.ForAddress(_gateway.BaseAddress, new GrpcChannelOptions
        {
            HttpHandler = new BasePathHandler("/api/predict/grpc_svc") { InnerHandler = new SocketsHttpHandler() },
        });
        var client = new Echo.EchoClient(channel);

        var reply = await client.SayAsync(new EchoRequest { Text = "via path" }, new Metadata { { "authorization", Token } });

        reply.Text.Should().Be("via path");
        reply.Path.Should().Be("/easgatewaytest.Echo/Say");
    }

    [Fact]
    public async Task WrongToken_Unauthenticated_UnknownService_Unimplemented()
    {
        using var channel = GrpcChannel.ForAddress(_gateway.BaseAddress);
        var client = new Echo.EchoClient(channel);

        var wrong = await FluentActions.Awaiting(() => client.SayAsync(new EchoRequest { Text = "x" }, new Metadata { { "eas-service", "grpc_svc" }, { "authorization", "nope" } }).ResponseAsync)
            .Should().ThrowAsync<RpcException>();
        wrong.Which.StatusCode.Should().Be(StatusCode.Unauthenticated);

        var unknown = await FluentActions.Awaiting(() => client.SayAsync(new EchoRequest { Text = "x" }, Headers("nosuch")).ResponseAsync)
            .Should().ThrowAsync<RpcException>();
        unknown.Which.StatusCode.Should().Be(StatusCode.Unimplemented, "the gateway answers 404, which gRPC reads as Unimplemented");
    }

    private static Metadata Headers(string service) => new() { { "eas-service", service }, { "authorization", Token } };

    /// <summary>Puts a base path in front of every gRPC call's path (Grpc.Net.Client ignores the path of its address).</summary>
    private sealed class BasePathHandler(string basePath) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var uri = request.RequestUri!;
            request.RequestUri = new UriBuilder(uri) { Path = basePath + uri.AbsolutePath }.Uri;
            return base.SendAsync(request, cancellationToken);
        }
    }

    private sealed class EchoService : Echo.EchoBase
    {
        public override Task<EchoReply> Say(EchoRequest request, ServerCallContext context) => Task.FromResult(new EchoReply
        {
            Text = request.Text,
            Path = context.GetHttpContext().Request.Path.Value ?? "",
            SawAuthorization = context.RequestHeaders.Get("authorization") is not null,
        });

        public override async Task Count(CountRequest request, IServerStreamWriter<EchoReply> responseStream, ServerCallContext context)
        {
            for (var i = 0; i < request.Count; i++)
            {
                await responseStream.WriteAsync(new EchoReply { Text = i.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                await Task.Delay(request.DelayMs, context.CancellationToken);
            }
        }
    }
}
