using System.Collections.Concurrent;
using System.Net;
using Eas.Node.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace Eas.Node.Gateway.Tests.Protocols;

/// <summary>W3C trace context through the gateway, and the gateway's own spans over OTLP/HTTP.</summary>
public sealed class TracingTests : IAsyncLifetime
{
    private const string Token = "tok-trace";
    private const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string TraceParent = "00-" + TraceId + "-00f067aa0ba902b7-01";
    private const string TraceState = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
    private Backend _backend = null!;

    public async Task InitializeAsync() => _backend = await Backend.StartAsync("b1");

    public async Task DisposeAsync() => await _backend.DisposeAsync();

    [Fact]
    public async Task TracingOff_TraceparentAndTracestate_ReachTheInstanceUnchanged()
    {
        await using var gateway = await GatewayHost.StartAsync();
        await gateway.ApplyAsync(Routes.Snapshot(1, Routes.Service("echo", Token, 0, _backend.Address)));

        using var response = await gateway.Client.SendAsync(Traced(GatewayHost.Request(HttpMethod.Get, "/api/predict/echo", Token)));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var seen = _backend.Seen.Single().Headers;
        seen["traceparent"].Should().Be(TraceParent);
        seen["tracestate"].Should().Be(TraceState);
    }

    [Fact]
    public async Task TracingOn_SpansExportedOverOtlp_InstanceGetsTheSameTraceUnderTheGatewaySpan()
    {
        var exports = new ConcurrentQueue<(string Path, string ContentType, byte[] Body)>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var collector = builder.Build();
        collector.Run(async context =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            exports.Enqueue((context.Request.Path.Value ?? "", context.Request.ContentType ?? "", buffer.ToArray()));
            context.Response.ContentType = "application/x-protobuf";
        });
        await collector.StartAsync();

        var gateway = await GatewayHost.StartAsync(o => o.Tracing.OtlpEndpoint = collector.Urls.Single());
        try
        {
            await gateway.ApplyAsync(Routes.Snapshot(1, Routes.Service("echo", Token, 0, _backend.Address)));
            using var response = await gateway.Client.SendAsync(Traced(GatewayHost.Request(HttpMethod.Get, "/api/predict/echo", Token)));
            response.StatusCode.Should().Be(HttpStatusCode.OK);
        }
        finally
        {
            // Disposing flushes the exporter's last batch.
            await gateway.DisposeAsync();
        }

        var forwarded = _backend.Seen.Single().Headers;
        forwarded["traceparent"].Should().MatchRegex($"^00-{TraceId}-[0-9a-f]{{16}}-01$").And.NotBe(TraceParent, "the gateway's span is the instance's parent");
        forwarded["tracestate"].Should().Be(TraceState);
        var gatewaySpanId = forwarded["traceparent"].Split('-')[2];

        var export = exports.Should().ContainSingle(e => e.Path == "/v1/traces").Subject;
        export.ContentType.Should().Be("application/x-protobuf");
        var body = export.Body;
        Contains(body, Convert.FromHexString(TraceId)).Should().BeTrue("the span carries the caller's trace id");
        Contains(body, Convert.FromHexString(gatewaySpanId)).Should().BeTrue("the exported span is the one the instance saw as parent");
        Contains(body, Convert.FromHexString("00f067aa0ba902b7")).Should().BeTrue("its parent is the caller's span");
        Contains(body, "GET /api/predict/echo"u8.ToArray()).Should().BeTrue();
        Contains(body, "eas-gateway"u8.ToArray()).Should().BeTrue("the resource names the service");
    }

    private static HttpRequestMessage Traced(HttpRequestMessage request)
    {
        request.Headers.TryAddWithoutValidation("traceparent", TraceParent);
        request.Headers.TryAddWithoutValidation("tracestate", TraceState);
        return request;
    }

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;
}
