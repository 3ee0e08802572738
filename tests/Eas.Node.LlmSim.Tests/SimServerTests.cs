using System.Net;
using System.Text;
using System.Text.Json;
using Eas.Node.LlmLoad;
using Microsoft.AspNetCore.Builder;

namespace Eas.Node.LlmSim.Tests;

/// <summary>One replica on a loopback port with a fast engine (1 µs per prefill token, 1 ms per decode step).</summary>
public sealed class SimServerFixture : IAsyncLifetime
{
    private WebApplication? _app;

    public SimReplica Replica { get; private set; } = null!;

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    public string BaseUrl { get; private set; } = "";

    public static async Task<(WebApplication App, SimReplica Replica, string Url)> StartAsync(string name, int maxWaiting = 0)
    {
        var options = new SimOptions
        {
            Host = "127.0.0.1",
            Port = 0,
            Name = name,
            MaxModelLen = 4096,
            MaxWaiting = maxWaiting,
            Engine = new EngineConfig { PrefillUsPerToken = 1, DecodeMsPerStep = 1, KvCacheTokens = 16 * 1024 },
        };
        var replica = new SimReplica(options);
        var app = SimServer.Build(replica);
        await app.StartAsync();
        return (app, replica, app.Urls.Single());
    }

    public async Task InitializeAsync()
    {
        (_app, Replica, BaseUrl) = await StartAsync("test-replica");
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        await Replica.DisposeAsync();
    }

    public async Task<Dictionary<string, double>> MetricsAsync() =>
        ReplicaMetrics.Parse(await Http.GetStringAsync(new Uri(BaseUrl + "/metrics")));
}

public class SimServerTests(SimServerFixture fx) : IClassFixture<SimServerFixture>
{
    private static StringContent Body(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    private static string Words(int n, string tag) => string.Join(' ', Enumerable.Range(0, n).Select(i => $"{tag}{i}"));

    [Fact]
    public async Task AStreamingChat_SendsOneEventPerToken_ThenUsage_ThenDone()
    {
        var request = Body(new
        {
            model = "sim-llm",
            messages = new[] { new { role = "system", content = Words(40, "sys") }, new { role = "user", content = "hello" } },
            max_tokens = 6,
            stream = true,
            stream_options = new { include_usage = true },
        });

        using var response = await fx.Http.PostAsync(new Uri(fx.BaseUrl + "/v1/chat/completions"), request);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be("text/event-stream");
        response.Headers.GetValues(SimServer.ReplicaHeader).Should().Equal("test-replica");
        var text = await response.Content.ReadAsStringAsync();
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        events.Should().HaveCount(6 + 2);
        events.Should().OnlyContain(e => e.StartsWith("data: ", StringComparison.Ordinal));
        events[^1].Should().Be("data: [DONE]");
        var usage = JsonDocument.Parse(events[^2][6..]).RootElement.GetProperty("usage");
        usage.GetProperty("prompt_tokens").GetInt32().Should().Be(1 + 40 + 1 + 1 + 1);
        usage.GetProperty("completion_tokens").GetInt32().Should().Be(6);
        var content = string.Concat(events[..6].Select(e =>
            JsonDocument.Parse(e[6..]).RootElement.GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString()));
        content.Split(' ', StringSplitOptions.RemoveEmptyEntries).Should().HaveCount(6).And.OnlyContain(w => OutputVocabulary.Words.Contains(w));
    }

    [Fact]
    public async Task ARepeatedPrefix_IsReportedAsCached_InTheResponseAndInTheMetrics()
    {
        var before = await fx.MetricsAsync();
        var prefix = Words(160, "shared");

        async Task<JsonElement> CompleteAsync(string suffix)
        {
            using var response = await fx.Http.PostAsync(new Uri(fx.BaseUrl + "/v1/completions"),
                Body(new { model = "sim-llm", prompt = prefix + " " + suffix, max_tokens = 3 }));
            response.StatusCode.Should().Be(HttpStatusCode.OK);
            return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        }

        var first = await CompleteAsync(Words(10, "a"));
        var second = await CompleteAsync(Words(10, "b"));

        first.GetProperty("replica").GetString().Should().Be("test-replica");
        first.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32().Should().Be(0);
        second.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32().Should().Be(160);
        second.GetProperty("choices")[0].GetProperty("text").GetString()!.Split(' ', StringSplitOptions.RemoveEmptyEntries).Should().HaveCount(3);

        var after = await fx.MetricsAsync();
        (after["vllm:prefix_cache_queries_total"] - before.GetValueOrDefault("vllm:prefix_cache_queries_total")).Should().Be(340);
        (after["vllm:prefix_cache_hits_total"] - before.GetValueOrDefault("vllm:prefix_cache_hits_total")).Should().Be(160);
        (after["vllm:generation_tokens_total"] - before.GetValueOrDefault("vllm:generation_tokens_total")).Should().Be(6);
        (after["vllm:time_to_first_token_seconds_count"] - before.GetValueOrDefault("vllm:time_to_first_token_seconds_count")).Should().Be(2);
    }

    [Fact]
    public async Task Metrics_UseVllmNames()
    {
        var text = await fx.Http.GetStringAsync(new Uri(fx.BaseUrl + "/metrics"));

        foreach (var name in new[]
        {
            "vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:gpu_cache_usage_perc", "vllm:kv_cache_usage_perc",
            "vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total", "vllm:prompt_tokens_total",
            "vllm:generation_tokens_total", "vllm:time_to_first_token_seconds_bucket", "vllm:cache_config_info",
        })
        {
            text.Should().Contain("\n" + name + "{", $"{name} is scraped by routers");
        }

        text.Should().Contain("vllm:cache_config_info{block_size=\"16\",enable_prefix_caching=\"True\",num_gpu_blocks=\"1024\"} 1.0");
    }

    [Fact]
    public async Task ModelsAndHealth_Answer()
    {
        var models = JsonDocument.Parse(await fx.Http.GetStringAsync(new Uri(fx.BaseUrl + "/v1/models"))).RootElement;
        models.GetProperty("data")[0].GetProperty("id").GetString().Should().Be("sim-llm");
        using var health = await fx.Http.GetAsync(new Uri(fx.BaseUrl + "/health"));
        health.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData("/v1/completions", "{\"model\":\"sim-llm\"}", 400, "prompt")]
    [InlineData("/v1/completions", "{\"model\":\"gpt-x\",\"prompt\":\"a\"}", 404, "sim-llm")]
    [InlineData("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":5000}", 400, "maximum context length is 4096")]
    [InlineData("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":0}", 400, "max_tokens")]
    [InlineData("/v1/chat/completions", "{\"messages\":[]}", 400, "messages")]
    [InlineData("/v1/chat/completions", "{\"messages\":[{\"content\":\"x\"}]}", 400, "messages[0].role")]
    [InlineData("/v1/chat/completions", "not json", 400, "not valid JSON")]
    public async Task BadRequests_GetAnOpenAiErrorNamingTheField(string path, string body, int status, string mentions)
    {
        using var response = await fx.Http.PostAsync(new Uri(fx.BaseUrl + path), new StringContent(body, Encoding.UTF8, "application/json"));

        ((int)response.StatusCode).Should().Be(status);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        error.GetProperty("message").GetString().Should().Contain(mentions);
        error.GetProperty("code").GetInt32().Should().Be(status);
    }

    [Fact]
    public async Task AClientThatGoesAway_IsDroppedFromTheEngine()
    {
        var before = await fx.MetricsAsync();
        using var cts = new CancellationTokenSource();
        using var request = new HttpRequestMessage(HttpMethod.Post, fx.BaseUrl + "/v1/completions")
        {
            Content = Body(new { prompt = "a long answer please", max_tokens = 3000, stream = true }),
        };
        // A client of its own that never drains: HttpClient otherwise goes on reading an abandoned HTTP/1.1 response to
        // reuse the connection, and when it read the whole answer the engine saw the request finish, not go away.
        using (var client = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }))
        using (var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token))
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cts.Token);
            using var reader = new StreamReader(stream);
            (await reader.ReadLineAsync(cts.Token)).Should().StartWith("data: ");
            await cts.CancelAsync();
        }

        for (var i = 0; i < 200 && (await fx.MetricsAsync())["llm_sim_requests_aborted_total"] == before["llm_sim_requests_aborted_total"]; i++)
        {
            await Task.Delay(50);
        }

        var after = await fx.MetricsAsync();
        after["llm_sim_requests_aborted_total"].Should().Be(before["llm_sim_requests_aborted_total"] + 1);
        after["vllm:num_requests_running"].Should().Be(0);
        after["vllm:kv_cache_usage_perc"].Should().Be(0);
    }

    [Fact]
    public async Task FaultSwitches_FailHealthAndSlowTheEngine()
    {
        try
        {
            using var set = await fx.Http.PostAsync(new Uri(fx.BaseUrl + "/sim/fault"), Body(new { health_fail = true, slowdown = 2.5 }));
            set.StatusCode.Should().Be(HttpStatusCode.OK);
            using var health = await fx.Http.GetAsync(new Uri(fx.BaseUrl + "/health"));
            health.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
            fx.Replica.Runner.Slowdown.Should().Be(2.5);

            using var bad = await fx.Http.PostAsync(new Uri(fx.BaseUrl + "/sim/fault"), Body(new { slowdown = 0 }));
            bad.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        }
        finally
        {
            using var reset = await fx.Http.PostAsync(new Uri(fx.BaseUrl + "/sim/fault"), Body(new { health_fail = false, slowdown = 1 }));
        }
    }

    [Fact]
    public async Task AFullWaitingQueue_Answers503WithRetryAfter()
    {
        var (app, replica, url) = await SimServerFixture.StartAsync("busy", maxWaiting: 1);
        using var http = new HttpClient();
        using var cts = new CancellationTokenSource();
        try
        {
            replica.Runner.Slowdown = 1000; // every step now takes a second: requests pile up
            var slow = new List<Task<HttpResponseMessage>>();
            for (var i = 0; i < 40; i++)
            {
                slow.Add(http.PostAsync(new Uri(url + "/v1/completions"), Body(new { prompt = $"p{i} x", max_tokens = 50 }), cts.Token));
            }

            var responses = await Task.WhenAll(slow.Select(async t =>
            {
                try
                {
                    return await t.WaitAsync(TimeSpan.FromSeconds(2));
                }
                catch (TimeoutException)
                {
                    return null;
                }
            }));

            var rejected = responses.OfType<HttpResponseMessage>().Where(r => r.StatusCode == HttpStatusCode.ServiceUnavailable).ToList();
            rejected.Should().NotBeEmpty("16 run, one waits, the rest are refused");
            rejected[0].Headers.RetryAfter!.ToString().Should().Be("1");
            foreach (var r in responses)
            {
                r?.Dispose();
            }
        }
        finally
        {
            await cts.CancelAsync(); // the admitted ones would otherwise run for minutes
            await app.StopAsync();
            await app.DisposeAsync();
            await replica.DisposeAsync();
        }
    }
}
