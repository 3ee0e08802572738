using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Eas.Node.Gateway.Records;
using Eas.Node.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Prometheus;
using Yarp.ReverseProxy.Forwarder;
using static Eas.Node.Gateway.Tests.Records.RecordTestKit;

namespace Eas.Node.Gateway.Tests.Records;

/// <summary>
/// Body and header capture on real calls: a Kestrel proxy forwarding with YARP's <see cref="IHttpForwarder"/> to a real
/// backend, recording each call as the gateway does (Begin before forwarding, Finish and TryWrite after).
/// </summary>
public sealed class CaptureTests : IAsyncLifetime
{
    private const string Secret = "tok-Very-Secret-42";
    private readonly TempDirectory _dir = new();
    private readonly CollectorRegistry _registry = Prometheus.Metrics.NewCustomRegistry();
    private readonly ConcurrentQueue<CallRecord> _records = new();
    private readonly ConcurrentQueue<bool> _requestBodyTeed = new();
    private readonly TaskCompletionSource _releaseStream = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Backend _backend = null!;
    private OtlpReceiver _receiver = null!;
    private CallRecorder _recorder = null!;
    private WebApplication _proxy = null!;
    private HttpClient _client = null!;
    private int _maxBodyBytes = 16;
    private SinkerSettings _sinker = new(SinkerSettings.File);

    public async Task InitializeAsync()
    {
        _backend = await Backend.StartAsync("b1", async context =>
        {
            context.Response.Headers["X-Upstream-Authorization"] = Secret;
            context.Response.Headers["X-Backend"] = "b1";
            if (context.Request.Path.StartsWithSegments("/api/predict/echo/stream"))
            {
                context.Response.ContentType = "text/event-stream";
                await context.Response.WriteAsync("data: first\n\n");
                await context.Response.Body.FlushAsync();
                await _releaseStream.Task;
                await context.Response.WriteAsync("data: second\n\n");
                return;
            }

            var seen = _backend.Seen.Last();
            context.Response.ContentType = "application/octet-stream";
            await context.Response.Body.WriteAsync(seen.Body);
        });
        _receiver = await OtlpReceiver.StartAsync();
        _recorder = new CallRecorder(new CallRecordOptions { Directory = _dir.Path }, _registry);

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        builder.Services.AddLogging();
        builder.Services.AddHttpForwarder();
        _proxy = builder.Build();
        _proxy.Urls.Add("http://127.0.0.1:0");
        var forwarder = _proxy.Services.GetRequiredService<IHttpForwarder>();
        var invoker = new HttpMessageInvoker(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false });
        _proxy.Run(async context =>
        {
            var sinker = _sinker with { MaxBodyBytes = _maxBodyBytes };
            var capture = _recorder.Begin(context, sinker);
            _requestBodyTeed.Enqueue(context.Request.Body is RequestBodyTee);

            // As the gateway does: the token is for the gateway, not for the instance.
            context.Request.Headers.Authorization = default;
            await forwarder.SendAsync(context, "http://" + _backend.Address, invoker, ForwarderRequestConfig.Empty, HttpTransformer.Default);
            var record = capture.Finish(context.Response.StatusCode, "echo", group: "g1", instance: "echo-0", node: "n1");
            _records.Enqueue(record);
            _recorder.TryWrite(record, sinker);
        });
        await _proxy.StartAsync();
        _client = new HttpClient { BaseAddress = new Uri(_proxy.Urls.First()), Timeout = TimeSpan.FromSeconds(30) };
    }

    public async Task DisposeAsync()
    {
        _releaseStream.TrySetResult();
        _client.Dispose();
        await _proxy.StopAsync();
        await _proxy.DisposeAsync();
        await _recorder.DisposeAsync();
        await _receiver.DisposeAsync();
        await _backend.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task Call_KeepsTheFirstMaxBodyBytes_OfEachBody_WhileTheWholeBodiesPassThrough()
    {
        var body = Enumerable.Range(0, 100).Select(i => (byte)i).ToArray();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/predict/echo/run?x=1") { Content = new ByteArrayContent(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Secret);
        request.Headers.Add("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");

        using var response = await _client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsByteArrayAsync()).Should().Equal(body, "the caller gets the whole response");
        _backend.Seen.Last().Body.Should().Equal(body, "the instance gets the whole request");
        var record = _records.Should().ContainSingle().Subject;
        record.Request.Body.ToArray().Should().Equal(body[..16]);
        record.Request.BodyTruncated.Should().BeTrue();
        record.Response.Body.ToArray().Should().Equal(body[..16]);
        record.Response.BodyTruncated.Should().BeTrue();
        record.Method.Should().Be("POST");
        record.Path.Should().Be("/api/predict/echo/run");
        record.Query.Should().Be("x=1");
        record.Status.Should().Be(200);
        record.Instance.Should().Be("echo-0");
        record.Client.Should().Be("127.0.0.1");
        record.TraceId.Should().Be("0af7651916cd43dd8448eb211c80319c");
        record.SpanId.Should().Be("b7ad6b7169203331");
        record.LatencyMs.Should().BePositive();
        record.Time.Should().BeCloseTo(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1));
        record.Response.Headers.Should().Contain(new KeyValuePair<string, string>("x-backend", "b1"));
    }

    [Fact]
    public async Task Call_WithBodiesUnderTheLimit_KeepsThemWhole_NotTruncated()
    {
        _maxBodyBytes = 4096;

        using var response = await _client.PostAsync("/api/predict/echo", new StringContent("héllo wörld", Encoding.UTF8, "text/plain"));

        (await response.Content.ReadAsStringAsync()).Should().Be("héllo wörld");
        var record = _records.Should().ContainSingle().Subject;
        Encoding.UTF8.GetString(record.Request.Body.Span).Should().Be("héllo wörld");
        record.Request.BodyTruncated.Should().BeFalse();
        Encoding.UTF8.GetString(record.Response.Body.Span).Should().Be("héllo wörld");
        record.Response.BodyTruncated.Should().BeFalse();
    }

    [Fact]
    public async Task Get_WithoutABody_IsNotTeed_AndRecordsAnEmptyBody_AndHeaderNamesInLowerCase()
    {
        _maxBodyBytes = 4096;
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/predict/echo/run");
        request.Headers.Add("X-Caller-Tag", "Abc");

        using var response = await _client.SendAsync(request);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        _requestBodyTeed.Should().Equal([false], "a request that cannot have a body needs no tee");
        var record = _records.Should().ContainSingle().Subject;
        record.Request.Body.IsEmpty.Should().BeTrue();
        record.Request.BodyTruncated.Should().BeFalse();
        record.Request.Headers.Should().Contain(new KeyValuePair<string, string>("x-caller-tag", "Abc"))
            .And.Contain(h => h.Key == "host");
        record.Response.Headers.Should().Contain(new KeyValuePair<string, string>("content-type", "application/octet-stream"));
        record.Request.Headers.Concat(record.Response.Headers).Should().OnlyContain(h => !h.Key.Any(char.IsUpper));
    }

    [Fact]
    public async Task Call_WithSinkerMaxBodyBytesZero_KeepsUpToTheGatewayDefault()
    {
        _maxBodyBytes = 0;
        _sinker = new SinkerSettings(SinkerSettings.File);
        _recorder.BodyLimit(_sinker).Should().Be(4096, "a sinker without max_body_bytes takes the gateway's default");

        using var response = await _client.PostAsync("/api/predict/echo", new StringContent(new string('b', 5000)));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var record = _records.Should().ContainSingle().Subject;
        record.Request.Body.Length.Should().Be(4096, "max_body_bytes 0 means the default, 4096");
        record.Request.BodyTruncated.Should().BeTrue();
    }

    [Fact]
    public async Task StreamedResponse_ReachesTheCallerChunkByChunk_AndIsRecordedWhole()
    {
        _maxBodyBytes = 4096;
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/predict/echo/stream");
        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();

        // The backend has sent its first event and waits: the event must come through while the stream is open.
        var first = await ReadAtLeastAsync(stream, "data: first\n\n".Length);
        first.Should().Be("data: first\n\n");
        _records.Should().BeEmpty("the call is still running");

        _releaseStream.SetResult();
        using var rest = new StreamReader(stream);
        (await rest.ReadToEndAsync()).Should().Be("data: second\n\n");
        await EventuallyAsync(() => Task.FromResult(!_records.IsEmpty), "the call is recorded");
        var record = _records.Single();
        Encoding.UTF8.GetString(record.Response.Body.Span).Should().Be("data: first\n\ndata: second\n\n");
        record.Response.Headers.Should().Contain(new KeyValuePair<string, string>("content-type", "text/event-stream"));
    }

    [Fact]
    public async Task NoAuthorizationValue_InTheRecordFile_OrTheOtlpPayload()
    {
        _maxBodyBytes = 4096;
        var sinks = new[] { new SinkerSettings(SinkerSettings.File), new SinkerSettings(SinkerSettings.Otlp, _receiver.Url) };
        foreach (var sinker in sinks)
        {
            _sinker = sinker;
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/predict/echo") { Content = new StringContent("{\"q\":1}") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Secret);
            request.Headers.Add("Proxy-Authorization", "Basic " + Secret);
            request.Headers.Add("Cookie", "session=abc");
            using var response = await _client.SendAsync(request);
            response.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        await EventuallyAsync(async () => await WrittenAsync(_registry, "echo", "file") == 1, "the file record");
        await EventuallyAsync(() => Task.FromResult(_receiver.Logs.Count == 1), "the OTLP record");

        var file = await File.ReadAllBytesAsync(Path.Combine(_dir.Path, "echo.jsonl"));
        var text = Encoding.UTF8.GetString(file);
        text.Should().NotContain(Secret).And.NotContainEquivalentOf("authorization");
        var payload = Encoding.UTF8.GetString(_receiver.Payloads.Single());
        payload.Should().NotContain(Secret).And.NotContainEquivalentOf("authorization");

        // What is kept is there: the body, the cookie, the backend's own headers.
        using var json = JsonDocument.Parse(text);
        json.RootElement.GetProperty("request").GetProperty("body").GetString().Should().Be("{\"q\":1}");
        json.RootElement.GetProperty("request").GetProperty("headers").GetProperty("cookie").GetString().Should().Be("session=abc");
        json.RootElement.GetProperty("response").GetProperty("headers").GetProperty("x-backend").GetString().Should().Be("b1");
        json.RootElement.GetProperty("group").GetString().Should().Be("g1");
        _receiver.Logs.Single().Log.Attributes()["request.headers.cookie"].Should().Be("session=abc");
    }

    private static async Task<string> ReadAtLeastAsync(Stream stream, int count)
    {
        var buffer = new byte[count];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await stream.ReadExactlyAsync(buffer, timeout.Token);
        return Encoding.UTF8.GetString(buffer);
    }
}
