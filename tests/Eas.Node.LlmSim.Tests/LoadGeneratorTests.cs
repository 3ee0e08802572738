using System.Text.Json;
using Eas.Node.LlmLoad;

namespace Eas.Node.LlmSim.Tests;

public class LoadGeneratorTests
{
    private static LoadOptions Options(params string[] args) => LoadOptions.Parse(["--url", "http://127.0.0.1:1", .. args]);

    [Fact]
    public void ZipfPopularity_FallsWithRank()
    {
        var cdf = PrefixWorkload.ZipfCdf(64, 1.1);

        cdf[^1].Should().BeApproximately(1.0, 1e-12);
        var h = Enumerable.Range(1, 64).Sum(k => 1 / Math.Pow(k, 1.1));
        cdf[0].Should().BeApproximately(1 / h, 1e-12);
        (cdf[1] - cdf[0]).Should().BeApproximately(1 / Math.Pow(2, 1.1) / h, 1e-12);

        var workload = new PrefixWorkload(Options("--workload", "zipf"));
        var rng = new Random(1);
        var counts = new int[64];
        for (var i = 0; i < 20_000; i++)
        {
            counts[workload.PickPrefix(rng)]++;
        }

        counts[0].Should().BeGreaterThan(counts[1]).And.BeGreaterThan(counts[10] * 5);
        ((double)counts[0] / 20_000).Should().BeApproximately(cdf[0], 0.02);
    }

    [Fact]
    public void SharedPrefixRequests_ShareExactlyTheirPrefix_AndDifferInTheSuffix()
    {
        var o = Options("--prefixes", "3", "--prefix-tokens", "50", "--suffix-tokens", "7");
        var workload = new PrefixWorkload(o);
        workload.Prefixes.Should().HaveCount(3).And.OnlyHaveUniqueItems();
        workload.Prefixes.Should().OnlyContain(p => p.Split(' ').Length == 50);
        new PrefixWorkload(o).Prefixes.Should().Equal(workload.Prefixes, "the same seed gives the same prefixes");

        var rng = new Random(2);
        var a = workload.ForPrefix(1, rng, 4, stream: true);
        var b = workload.ForPrefix(1, rng, 4, stream: true);
        var promptA = JsonDocument.Parse(a.Body).RootElement.GetProperty("prompt").GetString()!;
        var promptB = JsonDocument.Parse(b.Body).RootElement.GetProperty("prompt").GetString()!;

        promptA.Should().StartWith(workload.Prefixes[1] + " ");
        promptB.Should().StartWith(workload.Prefixes[1] + " ");
        promptA.Split(' ').Should().HaveCount(57);
        promptA.Should().NotBe(promptB);
        a.Path.Should().Be("/v1/completions");
        a.AffinityKey.Should().Be(1);
        var body = JsonDocument.Parse(a.Body).RootElement;
        body.GetProperty("max_tokens").GetInt32().Should().Be(4);
        body.GetProperty("stream").GetBoolean().Should().BeTrue();
        body.GetProperty("stream_options").GetProperty("include_usage").GetBoolean().Should().BeTrue();
    }

    [Fact]
    public void AChatSession_RepeatsTheWholeConversation_EachTurn()
    {
        var o = Options("--workload", "multi-turn", "--prefixes", "2", "--prefix-tokens", "20", "--suffix-tokens", "5");
        var session = new ChatSession(o, PrefixWorkload.MakePrefixes(o), 3);

        var first = JsonDocument.Parse(session.NextTurn().Body).RootElement.GetProperty("messages");
        session.AddReply(" kalo kami ");
        var second = session.NextTurn();
        var messages = JsonDocument.Parse(second.Body).RootElement.GetProperty("messages");

        second.Path.Should().Be("/v1/chat/completions");
        second.SessionId.Should().Be("s-1-3");
        first.GetArrayLength().Should().Be(2);
        messages.EnumerateArray().Select(m => m.GetProperty("role").GetString()).Should().Equal("system", "user", "assistant", "user");
        messages[0].GetProperty("content").GetString().Should().Be(first[0].GetProperty("content").GetString());
        messages[1].GetProperty("content").GetString().Should().Be(first[1].GetProperty("content").GetString());
        messages[2].GetProperty("content").GetString().Should().Be("kalo kami");
    }

    [Fact]
    public void Percentiles_InterpolateLinearly()
    {
        var values = Enumerable.Range(1, 100).Select(i => (double)i).ToList();

        Stats.Percentile(values, 50).Should().BeApproximately(50.5, 1e-9);
        Stats.Percentile(values, 90).Should().BeApproximately(90.1, 1e-9);
        Stats.Percentile(values, 99).Should().BeApproximately(99.01, 1e-9);
        Stats.Percentile([], 50).Should().Be(double.NaN);
    }

    [Fact]
    public void PrometheusText_IsSummedOverLabels_AndTheHitRateIsADelta()
    {
        var before = ReplicaMetrics.Parse("# HELP x\nvllm:prefix_cache_hits_total{model_name=\"a\"} 10\nvllm:prefix_cache_queries_total{model_name=\"a\"} 100\n");
        var after = ReplicaMetrics.Parse(
            "vllm:prefix_cache_hits_total{model_name=\"a\"} 60\nvllm:prefix_cache_hits_total{model_name=\"b\"} 30\nvllm:prefix_cache_queries_total 200\nplain 1.5e3\n");

        after["vllm:prefix_cache_hits_total"].Should().Be(90);
        after["plain"].Should().Be(1500);

        var (caches, rate) = ReplicaMetrics.Delta(["u1", "u2"], [before, null], [after, after]);
        rate.Should().BeApproximately(0.8, 1e-9, "(90 - 10) / (200 - 100)");
        caches[1].Error.Should().Contain("start");
    }

    [Theory]
    [InlineData(new[] { "--rate", "fast" }, "--rate: \"fast\" is not a number")]
    [InlineData(new[] { "--workload", "bursty" }, "--workload: \"bursty\" is not one of")]
    [InlineData(new[] { "--workload", "multi-turn", "--api", "completions" }, "--api: multi-turn sends whole conversations")]
    [InlineData(new[] { "--workload", "single-prefix", "--prefixes", "4" }, "--prefixes: single-prefix uses exactly one prefix")]
    [InlineData(new[] { "--frobnicate", "1" }, "--frobnicate: unknown option")]
    public void BadOptions_AreNamed(string[] args, string message)
    {
        var parse = () => LoadOptions.Parse(["--url", "http://127.0.0.1:1", .. args]);
        parse.Should().Throw<Exception>().Which.Message.Should().StartWith(message);
    }

    [Fact]
    public void SimOptions_RefuseAModelLengthThatCannotFitTheKvCache_AndReadPortFromTheEnvironment()
    {
        var parse = () => SimOptions.Parse(["--kv-cache-tokens", "1024"], _ => null);
        parse.Should().Throw<Exception>().Which.Message.Should().StartWith("--max-model-len: 8192 tokens do not fit the KV cache (1024 tokens");

        var fromEnv = SimOptions.Parse([], name => name switch { "PORT" => "9123", "EAS_INSTANCE_ID" => "svc-abc-0", _ => null });
        fromEnv.Port.Should().Be(9123);
        fromEnv.Name.Should().Be("svc-abc-0");
        SimOptions.Parse(["--port", "7000"], _ => null).Name.Should().Be("sim-7000");
    }

    [Fact]
    public async Task ARunAgainstTwoReplicas_CountsEveryRequest_SharesThem_AndReadsTheHitRate()
    {
        var (app1, r1, url1) = await SimServerFixture.StartAsync("one");
        var (app2, r2, url2) = await SimServerFixture.StartAsync("two");
        try
        {
            var options = LoadOptions.Parse(
            [
                "--url", $"{url1},{url2}", "--client-lb", "affinity", "--rate", "100", "--requests", "60", "--prefixes", "4",
                "--prefix-tokens", "64", "--suffix-tokens", "8", "--output-tokens", "5", "--prewarm", "--warmup", "0",
                "--replica-metrics", $"{url1},{url2}", "--quiet",
            ]);

            var report = await LlmLoad.Program.RunAsync(options);

            report.RequestsSent.Should().Be(60);
            report.Completed.Should().Be(60);
            report.ErrorCount.Should().Be(0);
            report.ReplicaShare.Keys.Should().BeEquivalentTo("one", "two");
            report.ReplicaShare.Values.Sum().Should().Be(60);
            report.TtftMs.Count.Should().Be(60);
            report.TpotMs.P50.Should().BePositive();
            report.PrewarmFailed.Should().Be(0);
            report.PrefixCacheHitRate.Should().BeApproximately(64.0 / 72, 0.01, "every prefix was prewarmed on its replica; only the suffix misses");
            report.ClientCachedTokenRate.Should().BeApproximately(64.0 / 72, 0.01);
            JsonDocument.Parse(report.ToJson()).RootElement.GetProperty("ttft_ms").GetProperty("p90").GetDouble().Should().BePositive();
            report.ToText().Should().Contain("prefix cache hit rate: 0.889");

            // One prefix with the affinity oracle: a hot spot, and the report says so.
            var hot = await LlmLoad.Program.RunAsync(LoadOptions.Parse(
            [
                "--url", $"{url1},{url2}", "--client-lb", "affinity", "--workload", "single-prefix", "--rate", "100", "--requests", "10",
                "--prefix-tokens", "32", "--suffix-tokens", "4", "--output-tokens", "2", "--warmup", "0", "--quiet",
            ]));
            hot.Completed.Should().Be(10);
            hot.ReplicasSeen.Should().Be(1);
            hot.ReplicasExpected.Should().Be(2);
            hot.ShareMaxOverMin.Should().BeNull("one replica served nothing");
            hot.ShareCov.Should().Be(1.0);
            hot.ToText().Should().Contain("max/min inf");
        }
        finally
        {
            foreach (var (app, replica) in new[] { (app1, r1), (app2, r2) })
            {
                await app.StopAsync();
                await app.DisposeAsync();
                await replica.DisposeAsync();
            }
        }
    }
}
