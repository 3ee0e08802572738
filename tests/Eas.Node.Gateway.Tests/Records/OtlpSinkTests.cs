using System.Text;
using Eas.Node.Gateway.Records;
using Eas.Node.Gateway.Tests.Infrastructure;
using Prometheus;
using static Eas.Node.Gateway.Tests.Records.RecordTestKit;

namespace Eas.Node.Gateway.Tests.Records;

/// <summary>The OTLP sink against a real OTLP/HTTP receiver, a dead endpoint and a slow one.</summary>
public sealed class OtlpSinkTests
{
    private readonly CollectorRegistry _registry = Prometheus.Metrics.NewCustomRegistry();

    [Fact]
    public async Task TryWrite_ReachesAnOtlpReceiver_AsLogRecordsWithTheCallsAttributes()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var sinker = new SinkerSettings(SinkerSettings.Otlp, receiver.Url);
        await using var recorder = new CallRecorder(new CallRecordOptions(), _registry);

        recorder.TryWrite(Record(), sinker).Should().BeTrue();
        recorder.TryWrite(Record(service: "other", status: 503, responseBody: "busy"), sinker).Should().BeTrue();
        var binary = Record(service: "other");
        recorder.TryWrite(new CallRecord { Service = "other", Method = "PUT", Path = "/api/predict/other", Status = 200, Time = binary.Time, Request = new CallRecordMessage { Body = new byte[] { 0xc3, 0x28 } } }, sinker).Should().BeTrue();

        await EventuallyAsync(() => Task.FromResult(receiver.Logs.Count == 3), "3 log records at the receiver");
        await EventuallyAsync(async () => await WrittenAsync(_registry, "echo", "otlp") == 1 && await WrittenAsync(_registry, "other", "otlp") == 2, "written counters");

        var (resource, log) = receiver.Logs.Single(l => l.Log.Attributes()["service"] as string == "echo");
        resource.Attributes()["service.name"].Should().Be("eas-gateway");
        log.Body.StringValue.Should().Be("POST /api/predict/echo/v1/run 200");
        log.TimeUnixNano.Should().Be((ulong)(new DateTimeOffset(2025, 3, 4, 5, 6, 7, 89, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1_000_000));
        Convert.ToHexStringLower(log.TraceId.ToByteArray()).Should().Be("4bf92f3577b34da6a3ce929d0e0e4736");
        Convert.ToHexStringLower(log.SpanId.ToByteArray()).Should().Be("00f067aa0ba902b7");
        var attributes = log.Attributes();
        attributes.Should().Contain(new Dictionary<string, object?>
        {
            ["service"] = "echo",
            ["group"] = "grp",
            ["instance"] = "echo-7d9f-0",
            ["node"] = "node-a",
            ["method"] = "POST",
            ["path"] = "/api/predict/echo/v1/run",
            ["query"] = "debug=1",
            ["status"] = 200L,
            ["latency_ms"] = 12.345,
            ["client"] = "127.0.0.1",
            ["request.headers.content-type"] = "application/json",
            ["request.headers.x-request-id"] = "r-1",
            ["request.body"] = "{\"prompt\":\"hi\"}",
            ["request.body_truncated"] = false,
            ["request.body_encoding"] = "utf8",
            ["response.body"] = "{\"text\":\"hello\"}",
            ["response.body_encoding"] = "utf8",
        });

        var busy = receiver.Logs.Single(l => l.Log.Attributes()["status"] is 503L).Log;
        busy.Attributes()["response.body"].Should().Be("busy");
        var invalidUtf8 = receiver.Logs.Single(l => l.Log.Attributes()["method"] as string == "PUT").Log;
        invalidUtf8.Attributes()["request.body_encoding"].Should().Be("base64");
        invalidUtf8.Attributes()["request.body"].Should().Be(Convert.ToBase64String([0xc3, 0x28]));
        invalidUtf8.TraceId.IsEmpty.Should().BeTrue("a call without a trace carries no trace id");
        (await DroppedAsync(_registry, "echo", "otlp")).Should().Be(0);
    }

    [Fact]
    public async Task TryWrite_ToAClosedPort_NeverFailsTheCaller_AndCountsEveryRecordDropped()
    {
        var sinker = new SinkerSettings(SinkerSettings.Otlp, "http://" + Ports.RefusingAddress());
        await using var recorder = new CallRecorder(new CallRecordOptions(), _registry);
        const int Count = 50;

        for (var i = 0; i < Count; i++)
        {
            recorder.TryWrite(Record(), sinker).Should().BeTrue("the record is queued; the sink's trouble is its own");
        }

        await EventuallyAsync(
            async () => await DroppedAsync(_registry, "echo", "otlp") + await WrittenAsync(_registry, "echo", "otlp") == Count,
            $"{Count} records accounted for");
        (await WrittenAsync(_registry, "echo", "otlp")).Should().Be(0, "nothing listens there");
        (await DroppedAsync(_registry, "echo", "otlp")).Should().Be(Count);
    }

    [Fact]
    public async Task TryWrite_WhileTheReceiverHoldsAnExport_DropsWhatDoesNotFit_WithoutWaitingForIt()
    {
        await using var receiver = await OtlpReceiver.StartAsync(slow: true);
        var sinker = new SinkerSettings(SinkerSettings.Otlp, receiver.Url);

        // 5 records fit in the sink's queue and 5 in the SDK (one export); the export may wait 30 s for the receiver.
        var options = new CallRecordOptions { QueueCapacity = 5, OtlpSdkQueueSize = 5, OtlpExportTimeoutMilliseconds = 30_000 };
        await using var recorder = new CallRecorder(options, _registry);
        for (var i = 0; i < 5; i++)
        {
            recorder.TryWrite(Record(), sinker).Should().BeTrue();
        }

        await EventuallyAsync(() => Task.FromResult(receiver.Held > 0), "the receiver holds the first export");

        // The sink is stuck now. Every call returns at once (a TryWrite that waited for the sink would wait for the
        // receiver, which answers only when released below): a few records queue, the rest are refused and counted.
        var accepted = 0;
        for (var i = 0; i < 200; i++)
        {
            if (recorder.TryWrite(Record(), sinker))
            {
                accepted++;
            }
        }

        accepted.Should().BeInRange(5, 6, "the queue holds 5, and the writer may hold one more waiting for a slot");
        (await DroppedAsync(_registry, "echo", "otlp")).Should().Be(200 - accepted);
        (await WrittenAsync(_registry, "echo", "otlp")).Should().Be(0);

        // Once the receiver answers, what was taken is written and nothing else is lost.
        receiver.Release();
        await EventuallyAsync(async () => await WrittenAsync(_registry, "echo", "otlp") == 5 + accepted, $"{5 + accepted} records written");
        (await DroppedAsync(_registry, "echo", "otlp")).Should().Be(200 - accepted);
    }

    [Fact]
    public async Task TryWrite_ToAReceiverThatNeverAnswers_CountsTimedOutExportsAsDropped()
    {
        await using var receiver = await OtlpReceiver.StartAsync(slow: true);
        var sinker = new SinkerSettings(SinkerSettings.Otlp, receiver.Url);
        var options = new CallRecordOptions { OtlpSdkQueueSize = 20, OtlpExportTimeoutMilliseconds = 300 };
        await using var recorder = new CallRecorder(options, _registry);

        for (var i = 0; i < 60; i++)
        {
            recorder.TryWrite(Record(), sinker).Should().BeTrue();
        }

        await EventuallyAsync(async () => await DroppedAsync(_registry, "echo", "otlp") == 60, "60 records dropped");
        (await WrittenAsync(_registry, "echo", "otlp")).Should().Be(0);
        receiver.Held.Should().BeGreaterThan(0, "the exports reached the receiver and timed out there");
    }

    [Fact]
    public async Task TryWrite_WithAnEndpointThatIsNotAUrl_DropsAndCounts()
    {
        await using var recorder = new CallRecorder(new CallRecordOptions(), _registry);

        recorder.TryWrite(Record(), new SinkerSettings(SinkerSettings.Otlp, "collector:4318")).Should().BeFalse();
        recorder.TryWrite(Record(), new SinkerSettings("kafka")).Should().BeFalse();

        (await DroppedAsync(_registry, "echo", "otlp")).Should().Be(1);
        (await DroppedAsync(_registry, "echo", "unknown")).Should().Be(1);
    }

    [Theory]
    [InlineData("http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/logs")]
    [InlineData("http://127.0.0.1:4318/", "http://127.0.0.1:4318/v1/logs")]
    [InlineData("https://otel.example:443/v1/logs", "https://otel.example/v1/logs")]
    [InlineData("http://collector/otlp", "http://collector/otlp/v1/logs")]
    public void OtlpLogsUri_AppendsV1LogsUnlessThere(string endpoint, string expected)
    {
        new SinkerSettings(SinkerSettings.Otlp, endpoint).OtlpLogsUri().Should().Be(new Uri(expected));
    }

    [Fact]
    public async Task Payload_HoldsNoAuthorizationValue()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var recorder = new CallRecorder(new CallRecordOptions(), _registry);
        var record = Record(requestHeaders: [new("authorization", "Bearer tok-SECRET-1"), new("Proxy-Authorization", "Basic tok-SECRET-2"), new("accept", "text/plain")]);

        recorder.TryWrite(record, new SinkerSettings(SinkerSettings.Otlp, receiver.Url)).Should().BeTrue();
        await EventuallyAsync(() => Task.FromResult(receiver.Logs.Count == 1), "the record at the receiver");

        var payload = Encoding.UTF8.GetString(receiver.Payloads.Single());
        payload.Should().NotContain("tok-SECRET").And.NotContainEquivalentOf("authorization");
        receiver.Logs.Single().Log.Attributes()["request.headers.accept"].Should().Be("text/plain");
    }
}
