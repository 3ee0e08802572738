using System.Net;
using System.Net.Sockets;
using Eas.Node.Gateway.Metrics;
using Eas.Node.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Prometheus;

namespace Eas.Node.Gateway.Tests.Metrics;

/// <summary>The gateway's /metrics: its own listener, request counts by service and code, latency, in-flight requests.</summary>
public sealed class GatewayMetricsTests : IAsyncLifetime
{
    private const string Token = "tok-metrics";
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _slowArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Backend _backend = null!;
    private Backend _slow = null!;
    private GatewayHost _gateway = null!;
    private HttpClient _scraper = null!;

    public async Task InitializeAsync()
    {
        _backend = await Backend.StartAsync("b1");
        _slow = await Backend.StartAsync("slow", async context =>
        {
            _slowArrived.TrySetResult();
            await _release.Task;
            await context.Response.WriteAsync("done");
        });
        _gateway = await GatewayHost.StartAsync(o => o.MetricsListen = "http://127.0.0.1:0");
        var metricsUrl = _gateway.App.Services.GetRequiredService<MetricsServer>().Urls.Should().ContainSingle().Subject;
        _scraper = new HttpClient { BaseAddress = new Uri(metricsUrl), Timeout = TimeSpan.FromSeconds(20) };
        await _gateway.ApplyAsync(Routes.Snapshot(
            1,
            Routes.Service("echo", Token, 0, _backend.Address),
            Routes.Service("slow_svc", null, 0, _slow.Address),
            Routes.Service("empty_svc", null, 0)));
    }

    public async Task DisposeAsync()
    {
        _release.TrySetResult();
        _scraper.Dispose();
        await _gateway.DisposeAsync();
        await _slow.DisposeAsync();
        await _backend.DisposeAsync();
    }

    [Fact]
    public async Task Scrape_AfterTraffic_CountsByServiceAndCode_WithLatencyAndNoneInFlight()
    {
        for (var i = 0; i < 3; i++)
        {
            await SendAsync("/api/predict/echo/x", Token, HttpStatusCode.OK);
        }

        await SendAsync("/api/predict/echo", "wrong", HttpStatusCode.Unauthorized);
        await SendAsync("/api/predict/empty_svc", null, HttpStatusCode.ServiceUnavailable);
        await SendAsync("/api/predict/nosuch", Token, HttpStatusCode.NotFound);
        await SendAsync("/elsewhere", null, HttpStatusCode.NotFound);

        var scrape = await ScrapeAsync();

        scrape["eas_gateway_requests_total{service=\"echo\",code=\"200\"}"].Should().Be(3);
        scrape["eas_gateway_requests_total{service=\"echo\",code=\"401\"}"].Should().Be(1);
        scrape["eas_gateway_requests_total{service=\"empty_svc\",code=\"503\"}"].Should().Be(1);
        scrape["eas_gateway_requests_total{service=\"\",code=\"404\"}"].Should().Be(2, "an unknown service and a path outside /api/predict name no service");
        scrape["eas_gateway_request_duration_seconds_count{service=\"echo\"}"].Should().Be(4);
        scrape["eas_gateway_request_duration_seconds_bucket{service=\"echo\",le=\"30\"}"].Should().Be(4);
        scrape["eas_gateway_request_duration_seconds_bucket{service=\"echo\",le=\"+Inf\"}"].Should().Be(4);
        scrape["eas_gateway_request_duration_seconds_sum{service=\"echo\"}"].Should().BeGreaterThan(0);
        scrape["eas_gateway_requests_in_flight{service=\"echo\"}"].Should().Be(0);
        scrape.Types.Should().Contain([
            "eas_gateway_requests_total counter",
            "eas_gateway_request_duration_seconds histogram",
            "eas_gateway_requests_in_flight gauge",
        ]);
        scrape.Samples.Keys.Should().Contain(k => k.StartsWith("process_cpu_seconds_total", StringComparison.Ordinal), "the standalone gateway adds the process's figures");
        scrape.Samples.Keys.Should().Contain("eas_gateway_request_duration_seconds_bucket{service=\"echo\",le=\"0.001\"}", "buckets start at 1 ms");
    }

    [Fact]
    public async Task Scrape_PerInstance_RequestsLatencyAndQueueDepth_GoneInstancesDropped()
    {
        await using var second = await Backend.StartAsync("b2");
        await _gateway.ApplyAsync(Routes.Snapshot(2, Routes.Service("pair", null, 0, _backend.Address, second.Address)));
        for (var i = 0; i < 4; i++)
        {
            await SendAsync("/api/predict/pair", null, HttpStatusCode.OK);
        }

        // A call is counted just after its response ends, which can be a moment after the caller has read it.
        var scrape = await ScrapeUntilAsync(s => s.Samples.GetValueOrDefault("eas_gateway_requests_total{service=\"pair\",code=\"200\"}") == 4);

        scrape["eas_gateway_instance_requests_total{service=\"pair\",instance=\"pair-0\",code=\"200\"}"].Should().Be(2, "idle instances take turns");
        scrape["eas_gateway_instance_requests_total{service=\"pair\",instance=\"pair-1\",code=\"200\"}"].Should().Be(2);
        scrape["eas_gateway_instance_request_duration_seconds_count{service=\"pair\",instance=\"pair-0\"}"].Should().Be(2);
        scrape["eas_gateway_instance_queue_depth{service=\"pair\",instance=\"pair-1\"}"].Should().Be(0);
        scrape.Types.Should().Contain([
            "eas_gateway_instance_requests_total counter",
            "eas_gateway_instance_request_duration_seconds histogram",
            "eas_gateway_instance_queue_depth gauge",
        ]);

        // pair-1 leaves the table: its series go with it.
        await _gateway.ApplyAsync(Routes.Snapshot(3, Routes.Service("pair", null, 0, _backend.Address)));
        var after = await ScrapeAsync();
        after.Samples.Keys.Should().NotContain(k => k.Contains("instance=\"pair-1\"", StringComparison.Ordinal));
        after["eas_gateway_instance_requests_total{service=\"pair\",instance=\"pair-0\",code=\"200\"}"].Should().Be(2);
    }

    [Fact]
    public void RecordAndReject_OnceWarm_AllocateNothing()
    {
        var metrics = new GatewayMetrics(Prometheus.Metrics.NewCustomRegistry());
        var service = metrics.For("echo");
        var instance = metrics.ForInstance("echo", "echo-0");
        var limiter = new Gateway.Routing.RateLimiter(1_000_000);
        var endpoint = new Gateway.Routing.EndpointState("echo-0", "127.0.0.1:1", "n");
        service.Reject(RejectReason.QueueFull);
        instance.Record(200, System.Diagnostics.Stopwatch.GetTimestamp());

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            limiter.TryAcquire();
            endpoint.TryEnter(64);
            endpoint.Exit();
            service.Reject(RejectReason.QueueFull);
            instance.Record(200, start);
        }

        (GC.GetAllocatedBytesForCurrentThread() - before).Should().Be(0);
    }

    [Fact]
    public async Task Scrape_WhileARequestWaitsOnItsInstance_ShowsItInFlight()
    {
        var pending = _gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, "/api/predict/slow_svc"));
        await _slowArrived.Task.WaitAsync(TimeSpan.FromSeconds(10));

        (await ScrapeAsync())["eas_gateway_requests_in_flight{service=\"slow_svc\"}"].Should().Be(1);

        _release.SetResult();
        using var response = await pending;
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var after = await ScrapeAsync();
        after["eas_gateway_requests_in_flight{service=\"slow_svc\"}"].Should().Be(0);
        after["eas_gateway_requests_total{service=\"slow_svc\",code=\"200\"}"].Should().Be(1);
    }

    [Fact]
    public async Task Metrics_AreNotServedOnThePredictListener_NorThroughPredict()
    {
        await SendAsync("/metrics", null, HttpStatusCode.NotFound);
        using var predict = await _gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, "/api/predict/metrics"));
        predict.StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await predict.Content.ReadAsStringAsync()).Should().NotContain("eas_gateway");
    }

    [Fact]
    public async Task MetricsListener_ServesOnlyGetMetrics_WithoutAToken()
    {
        using var ok = await _scraper.GetAsync("/metrics");
        ok.StatusCode.Should().Be(HttpStatusCode.OK);
        ok.Content.Headers.ContentType!.ToString().Should().Be("text/plain; version=0.0.4; charset=utf-8");

        using var other = await _scraper.GetAsync("/api/predict/echo");
        other.StatusCode.Should().Be(HttpStatusCode.NotFound);
        using var post = await _scraper.PostAsync("/metrics", new StringContent(""));
        post.StatusCode.Should().Be(HttpStatusCode.MethodNotAllowed);
        _backend.Count.Should().Be(0, "nothing on the metrics listener reaches an instance");
    }

    [Fact]
    public async Task MetricsListen_PortTaken_GatewayStillServes_WithoutMetrics()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        await using var gateway = await GatewayHost.StartAsync(o => o.MetricsListen = $"http://127.0.0.1:{port}");
        await gateway.ApplyAsync(Routes.Snapshot(1, Routes.Service("echo", Token, 0, _backend.Address)));

        gateway.App.Services.GetRequiredService<MetricsServer>().Urls.Should().BeEmpty();
        using var response = await gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, "/api/predict/echo", Token));
        response.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Record_UnusualStatus_IsCountedAsOther()
    {
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var metrics = new GatewayMetrics(registry);

        metrics.For("echo").Record(42, System.Diagnostics.Stopwatch.GetTimestamp());
        metrics.For("echo").Record(200, System.Diagnostics.Stopwatch.GetTimestamp());

        var scrape = await CollectAsync(registry);
        scrape["eas_gateway_requests_total{service=\"echo\",code=\"other\"}"].Should().Be(1);
        scrape["eas_gateway_requests_total{service=\"echo\",code=\"200\"}"].Should().Be(1);
    }

    [Fact]
    public void Record_OnceWarm_AllocatesNothing()
    {
        var metrics = new GatewayMetrics(Prometheus.Metrics.NewCustomRegistry());
        var service = metrics.For("echo");
        service.Enter();
        service.Exit();
        service.Record(200, System.Diagnostics.Stopwatch.GetTimestamp());
        service.Record(503, System.Diagnostics.Stopwatch.GetTimestamp());

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            service.Enter();
            service.Exit();
            service.Record(i % 2 == 0 ? 200 : 503, start);
        }

        (GC.GetAllocatedBytesForCurrentThread() - before).Should().Be(0);
    }

    private async Task SendAsync(string path, string? authorization, HttpStatusCode expected)
    {
        using var response = await _gateway.Client.SendAsync(GatewayHost.Request(HttpMethod.Get, path, authorization));
        response.StatusCode.Should().Be(expected, path);
    }

    private async Task<PrometheusText> ScrapeAsync() => PrometheusText.Parse(await _scraper.GetStringAsync("/metrics"));

    private async Task<PrometheusText> ScrapeUntilAsync(Func<PrometheusText, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        var scrape = await ScrapeAsync();
        while (!condition(scrape) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
            scrape = await ScrapeAsync();
        }

        return scrape;
    }

    private static async Task<PrometheusText> CollectAsync(CollectorRegistry registry)
    {
        using var buffer = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(buffer);
        return PrometheusText.Parse(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }
}
