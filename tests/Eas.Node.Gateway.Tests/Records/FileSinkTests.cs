using System.Text;
using System.Text.Json;
using Eas.Node.Gateway.Records;
using Microsoft.AspNetCore.Http;
using Prometheus;
using static Eas.Node.Gateway.Tests.Records.RecordTestKit;

namespace Eas.Node.Gateway.Tests.Records;

/// <summary>The file sink: JSON Lines at &lt;directory&gt;/&lt;service&gt;.jsonl, rotation, a removed directory, a full disk.</summary>
public sealed class FileSinkTests : IDisposable
{
    private static readonly SinkerSettings _file = new(SinkerSettings.File);
    private readonly TempDirectory _dir = new();
    private readonly CollectorRegistry _registry = Prometheus.Metrics.NewCustomRegistry();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task TryWrite_WritesOneJsonObjectPerLine_InTheDocumentedFormat()
    {
        await using var recorder = new CallRecorder(new CallRecordOptions { Directory = _dir.Path }, _registry);
        var binary = new CallRecord
        {
            Time = new DateTimeOffset(2025, 12, 31, 23, 59, 59, 5, TimeSpan.Zero),
            Service = "echo",
            Method = "GET",
            Path = "/api/predict/echo",
            Status = 502,
            LatencyMs = 0.5,
            Response = new CallRecordMessage { Body = new byte[] { 0xff, 0x00, 0x10, 0x80 }, BodyTruncated = true },
        };

        recorder.TryWrite(Record(), _file).Should().BeTrue();
        recorder.TryWrite(binary, _file).Should().BeTrue();
        await EventuallyAsync(async () => await WrittenAsync(_registry, "echo", "file") == 2, "2 records written");

        var path = Path.Combine(_dir.Path, "echo.jsonl");
        var lines = await File.ReadAllLinesAsync(path);
        lines.Should().HaveCount(2);
        using var first = JsonDocument.Parse(lines[0]);
        var r = first.RootElement;
        r.EnumerateObject().Select(p => p.Name).Should().Equal(
            "time", "service", "group", "instance", "node", "method", "path", "query", "status", "latency_ms", "trace_id", "client", "request", "response");
        r.GetProperty("time").GetString().Should().Be("2025-03-04T05:06:07.089Z");
        r.GetProperty("service").GetString().Should().Be("echo");
        r.GetProperty("group").GetString().Should().Be("grp");
        r.GetProperty("instance").GetString().Should().Be("echo-7d9f-0");
        r.GetProperty("node").GetString().Should().Be("node-a");
        r.GetProperty("method").GetString().Should().Be("POST");
        r.GetProperty("path").GetString().Should().Be("/api/predict/echo/v1/run");
        r.GetProperty("query").GetString().Should().Be("debug=1");
        r.GetProperty("status").GetInt32().Should().Be(200);
        r.GetProperty("latency_ms").GetDouble().Should().Be(12.345);
        r.GetProperty("trace_id").GetString().Should().Be("4bf92f3577b34da6a3ce929d0e0e4736");
        r.GetProperty("client").GetString().Should().Be("127.0.0.1");
        var request = r.GetProperty("request");
        request.EnumerateObject().Select(p => p.Name).Should().Equal("headers", "body", "body_truncated", "body_encoding");
        request.GetProperty("headers").GetProperty("content-type").GetString().Should().Be("application/json");
        request.GetProperty("headers").GetProperty("x-request-id").GetString().Should().Be("r-1");
        request.GetProperty("body").GetString().Should().Be("{\"prompt\":\"hi\"}");
        request.GetProperty("body_truncated").GetBoolean().Should().BeFalse();
        request.GetProperty("body_encoding").GetString().Should().Be("utf8");
        r.GetProperty("response").GetProperty("body").GetString().Should().Be("{\"text\":\"hello\"}");

        using var second = JsonDocument.Parse(lines[1]);
        var response = second.RootElement.GetProperty("response");
        second.RootElement.GetProperty("time").GetString().Should().Be("2025-12-31T23:59:59.005Z");
        response.GetProperty("body_encoding").GetString().Should().Be("base64");
        Convert.FromBase64String(response.GetProperty("body").GetString()!).Should().Equal(0xff, 0x00, 0x10, 0x80);
        response.GetProperty("body_truncated").GetBoolean().Should().BeTrue();
        second.RootElement.GetProperty("request").GetProperty("body").GetString().Should().BeEmpty();
        second.RootElement.GetProperty("group").GetString().Should().BeEmpty();
        (await DroppedAsync(_registry, "echo", "file")).Should().Be(0);
    }

    [Fact]
    public async Task TryWrite_PastMaxFileBytes_RotatesToNumberedFiles_AndKeepsMaxFiles()
    {
        var options = new CallRecordOptions { Directory = _dir.Path, MaxFileBytes = 4096, MaxFiles = 2 };
        await using var recorder = new CallRecorder(options, _registry);
        const int Count = 40;
        var filler = new string('x', 600);
        for (var i = 0; i < Count; i++)
        {
            recorder.TryWrite(Record(requestBody: $"#{i:D3} {filler}"), _file).Should().BeTrue();
        }

        await EventuallyAsync(async () => await WrittenAsync(_registry, "echo", "file") == Count, $"{Count} records written");

        var names = Directory.GetFiles(_dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        names.Should().Equal("echo.jsonl", "echo.jsonl.1", "echo.jsonl.2");

        // Oldest kept first: .2, .1, then the live file; every line whole JSON, every file within the limit, and the
        // kept records are the newest ones, in order, with none missing between them.
        var numbers = new List<int>();
        foreach (var name in new[] { "echo.jsonl.2", "echo.jsonl.1", "echo.jsonl" })
        {
            var path = Path.Combine(_dir.Path, name);
            new FileInfo(path).Length.Should().BeLessThanOrEqualTo(4096, $"{name} is rotated before passing MaxFileBytes");
            foreach (var line in await File.ReadAllLinesAsync(path))
            {
                using var json = JsonDocument.Parse(line);
                var body = json.RootElement.GetProperty("request").GetProperty("body").GetString()!;
                numbers.Add(int.Parse(body.AsSpan(1, 3), provider: null));
            }
        }

        numbers.Should().NotBeEmpty();
        numbers.Last().Should().Be(Count - 1);
        numbers.Should().Equal(Enumerable.Range(numbers[0], numbers.Count), "rotation loses no record between the kept files");
        numbers[0].Should().BeGreaterThan(0, "the oldest records went out with the file past .MaxFiles");
    }

    [Fact]
    public async Task TryWrite_AfterTheDirectoryWasRemoved_CreatesItAgain()
    {
        var directory = Path.Combine(_dir.Path, "records");
        await using var recorder = new CallRecorder(new CallRecordOptions { Directory = directory }, _registry);
        recorder.TryWrite(Record(requestBody: "first"), _file).Should().BeTrue();
        await EventuallyAsync(async () => await WrittenAsync(_registry, "echo", "file") == 1, "first record written");

        Directory.Delete(directory, recursive: true);
        recorder.TryWrite(Record(requestBody: "second"), _file).Should().BeTrue();
        await EventuallyAsync(async () => await WrittenAsync(_registry, "echo", "file") == 2, "second record written");

        var lines = await File.ReadAllLinesAsync(Path.Combine(directory, "echo.jsonl"));
        lines.Should().ContainSingle().Which.Should().Contain("\"body\":\"second\"");
    }

    [Fact]
    public async Task TryWrite_OnAFullDisk_DropsAndCounts_ThenWritesAgainWhenThereIsRoom()
    {
        // The record file is /dev/full: every write fails with ENOSPC, as on a full disk.
        var path = Path.Combine(_dir.Path, "echo.jsonl");
        File.CreateSymbolicLink(path, "/dev/full");
        await using var recorder = new CallRecorder(new CallRecordOptions { Directory = _dir.Path }, _registry);
        for (var i = 0; i < 5; i++)
        {
            recorder.TryWrite(Record(), _file).Should().BeTrue("the call is never failed by its record");
        }

        await EventuallyAsync(async () => await DroppedAsync(_registry, "echo", "file") == 5, "5 records dropped");
        (await WrittenAsync(_registry, "echo", "file")).Should().Be(0);

        File.Delete(path);
        recorder.TryWrite(Record(requestBody: "after"), _file).Should().BeTrue();
        await EventuallyAsync(async () => await WrittenAsync(_registry, "echo", "file") == 1, "the record after the disk has room is written");
        (await File.ReadAllTextAsync(path)).Should().Contain("\"body\":\"after\"");
    }

    [Fact]
    public async Task TryWrite_WithoutADirectory_DropsAndCounts()
    {
        await using var recorder = new CallRecorder(new CallRecordOptions(), _registry);

        recorder.TryWrite(Record(), _file).Should().BeFalse();

        (await DroppedAsync(_registry, "echo", "file")).Should().Be(1);
    }

    [Fact]
    public async Task TryWrite_AnotherService_GetsItsOwnFile()
    {
        await using var recorder = new CallRecorder(new CallRecordOptions { Directory = _dir.Path }, _registry);
        recorder.TryWrite(Record(service: "alpha"), _file).Should().BeTrue();
        recorder.TryWrite(Record(service: "beta"), _file).Should().BeTrue();
        recorder.TryWrite(Record(service: "beta"), _file).Should().BeTrue();

        await EventuallyAsync(async () => await WrittenAsync(_registry, "beta", "file") == 2 && await WrittenAsync(_registry, "alpha", "file") == 1, "records written");

        (await File.ReadAllLinesAsync(Path.Combine(_dir.Path, "alpha.jsonl"))).Should().ContainSingle();
        (await File.ReadAllLinesAsync(Path.Combine(_dir.Path, "beta.jsonl"))).Should().HaveCount(2)
            .And.OnlyContain(l => l.Contains("\"service\":\"beta\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DisposeAsync_WritesWhatIsQueued()
    {
        var recorder = new CallRecorder(new CallRecordOptions { Directory = _dir.Path }, _registry);
        for (var i = 0; i < 100; i++)
        {
            recorder.TryWrite(Record(), _file).Should().BeTrue();
        }

        await recorder.DisposeAsync();

        (await File.ReadAllLinesAsync(Path.Combine(_dir.Path, "echo.jsonl"))).Should().HaveCount(100);
        recorder.TryWrite(Record(), _file).Should().BeFalse("a disposed recorder takes no records");
    }

    [Fact]
    public async Task TryWrite_ToAnIdleSink_WakesItsWriter_WithoutWaitingForItsIdleCheck()
    {
        // The writer's own look at the queue is an hour away: only the record's wake-up can get it written.
        var options = new CallRecordOptions { Directory = _dir.Path, WriterIdleCheck = TimeSpan.FromHours(1) };
        await using var recorder = new CallRecorder(options, _registry);
        for (var i = 1; i <= 3; i++)
        {
            recorder.TryWrite(Record(), _file).Should().BeTrue();
            await EventuallyAsync(async () => await WrittenAsync(_registry, "echo", "file") == i, $"record {i} written");

            // The writer is idle again (it wrote and found the queue empty) before the next record comes.
            await Task.Delay(50);
        }
    }

    [Theory]
    [InlineData("Content-Type", "content-type")]
    [InlineData("Host", "host")]
    [InlineData("X-Caller-Tag", "x-caller-tag")]
    [InlineData("x-already-lower", "x-already-lower")]
    public void HeaderNames_AreRecordedInLowerCase(string name, string recorded)
    {
        var headers = new HeaderDictionary { [name] = "v" };

        CallRecordHeaders.Snapshot(headers).Should().ContainSingle().Which.Should().Be(new KeyValuePair<string, string>(recorded, "v"));
    }

    [Fact]
    public void Headers_NeverKeepAuthorizationTypeHeaders()
    {
        var record = Record(requestHeaders: [new("authorization", "Bearer s3cr3t"), new("proxy-authorization", "Basic s3cr3t"), new("x-forwarded-authorization", "s3cr3t"), new("cookie", "a=b")]);

        var line = Encoding.UTF8.GetString(CallRecordJson.ToLine(record));

        line.Should().NotContain("s3cr3t").And.NotContainEquivalentOf("authorization");
        line.Should().Contain("\"cookie\":\"a=b\"", "cookies are the caller's data, kept like the bodies");
        line.Should().EndWith("\n").And.Subject.Count(c => c == '\n').Should().Be(1);
    }

    [Fact]
    public void WriteLine_AfterALineThatFailedHalfWay_WritesTheNextOneWhole()
    {
        // The output fails part-way through the first record's line (as a full buffer or a bug might).
        var failing = new FailingBufferWriter(failAfterBytes: 100);
        var act = () => CallRecordJson.WriteLine(Record(), failing);
        act.Should().Throw<IOException>();

        // The thread's JSON writer is reused for the next record: nothing of the failed one may leak into it.
        var line = Encoding.UTF8.GetString(CallRecordJson.ToLine(Record(service: "next")));

        line.Should().StartWith("{\"time\"").And.EndWith("\n").And.Subject.Count(c => c == '\n').Should().Be(1);
        using var json = JsonDocument.Parse(line);
        json.RootElement.GetProperty("service").GetString().Should().Be("next");
    }

    [Fact]
    public async Task TryWrite_FromManyThreadsAtOnce_WritesEveryRecordOnce()
    {
        await using var recorder = new CallRecorder(new CallRecordOptions { Directory = _dir.Path }, _registry);

        // Records arrive while the writer is gathering a batch and while it writes one.
        await Parallel.ForAsync(0, 4, async (thread, cancellationToken) =>
        {
            for (var i = 0; i < 500; i++)
            {
                recorder.TryWrite(Record(requestHeaders: [new("x-id", $"{thread}-{i}")]), _file).Should().BeTrue();
                if (i % 50 == 0)
                {
                    await Task.Delay(3, cancellationToken);
                }
            }
        });
        await EventuallyAsync(async () => await WrittenAsync(_registry, "echo", "file") == 2000, "2000 records written");

        var ids = (await File.ReadAllLinesAsync(Path.Combine(_dir.Path, "echo.jsonl")))
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("request").GetProperty("headers").GetProperty("x-id").GetString())
            .ToList();
        ids.Should().HaveCount(2000).And.OnlyHaveUniqueItems();
    }

    /// <summary>Hands out 16 bytes at a time and throws once more than <c>failAfterBytes</c> were asked for.</summary>
    private sealed class FailingBufferWriter(int failAfterBytes) : System.Buffers.IBufferWriter<byte>
    {
        private int _written;

        public void Advance(int count) => _written += count;

        public Memory<byte> GetMemory(int sizeHint = 0) =>
            _written > failAfterBytes ? throw new IOException("no room") : new byte[Math.Max(sizeHint, 16)];

        public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
    }
}
