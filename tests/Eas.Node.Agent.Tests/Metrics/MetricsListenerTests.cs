using System.Net;
using System.Net.Sockets;
using System.Text;
using Eas.Node.Agent.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace Eas.Node.Agent.Tests.Metrics;

/// <summary>The agent's socket listener as a scraper and as a stray client see it (no root needed: no instances).</summary>
public sealed class MetricsListenerTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eas-agent-metrics-").FullName;
    private Microsoft.Extensions.Hosting.IHost _host = null!;
    private MetricsListener _listener = null!;
    private Uri _url = null!;

    public async Task InitializeAsync()
    {
        _host = AgentHost.TryBuild([$"--Agent:StateDir={_dir}", "--Agent:MetricsListen=http://127.0.0.1:0", "--Agent:Gpu:NvmlLibrary=libnvidia-ml-absent.so"], TextWriter.Null)!.Value.Host;
        _listener = _host.Services.GetRequiredService<MetricsListener>();
        await _listener.StartAsync(CancellationToken.None);
        _url = new Uri(_listener.Urls.Should().ContainSingle().Subject);
    }

    public async Task DisposeAsync()
    {
        await _listener.StopAsync(CancellationToken.None);
        _host.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Get_Metrics_IsThePrometheusTextFormat()
    {
        using var http = new HttpClient { BaseAddress = _url };

        using var response = await http.GetAsync(new Uri("/metrics?name[]=x", UriKind.Relative));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.ToString().Should().Be("text/plain; version=0.0.4; charset=utf-8");
        var text = await response.Content.ReadAsStringAsync();
        text.Should().Contain("# TYPE process_cpu_seconds_total counter");
        text.Should().NotContain("eas_agent_instances{", "no instance runs on this agent");
    }

    [Fact]
    public async Task Scrapes_OneAfterAnother_EachGetAnAnswer()
    {
        using var http = new HttpClient { BaseAddress = _url };
        for (var i = 0; i < 20; i++)
        {
            (await http.GetStringAsync(new Uri("/metrics", UriKind.Relative))).Should().Contain("process_start_time_seconds");
        }
    }

    [Theory]
    [InlineData("GET / HTTP/1.1", "HTTP/1.1 404 Not Found")]
    [InlineData("GET /api/predict/x HTTP/1.1", "HTTP/1.1 404 Not Found")]
    [InlineData("POST /metrics HTTP/1.1", "HTTP/1.1 405 Method Not Allowed")]
    [InlineData("hello", "HTTP/1.1 400 Bad Request")]
    public async Task OtherRequests_AreRefused(string requestLine, string statusLine)
    {
        var answer = await RawAsync($"{requestLine}\r\nHost: x\r\n\r\n");

        answer.Should().StartWith(statusLine + "\r\n").And.Contain("Connection: close\r\n");
    }

    [Fact]
    public async Task Head_Metrics_HasALengthAndNoBody()
    {
        var answer = await RawAsync("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");

        answer.Should().StartWith("HTTP/1.1 200 OK\r\n").And.MatchRegex("Content-Length: [1-9][0-9]*\r\n").And.EndWith("\r\n\r\n");
    }

    [Fact]
    public async Task OversizedRequest_Gets431()
    {
        var answer = await RawAsync("GET /metrics HTTP/1.1\r\nX-Big: " + new string('a', 9000) + "\r\n\r\n");

        answer.Should().StartWith("HTTP/1.1 431 ");
    }

    [Fact]
    public async Task PortTaken_AgentRunsOnWithoutMetrics()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        using var host = AgentHost.TryBuild([$"--Agent:StateDir={_dir}", $"--Agent:MetricsListen=http://127.0.0.1:{port}"], TextWriter.Null)!.Value.Host;
        var listener = host.Services.GetRequiredService<MetricsListener>();

        await listener.StartAsync(CancellationToken.None);

        listener.Urls.Should().BeEmpty();
        await listener.StopAsync(CancellationToken.None);
    }

    private async Task<string> RawAsync(string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(_url.Host, _url.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadToEndAsync();
    }
}
