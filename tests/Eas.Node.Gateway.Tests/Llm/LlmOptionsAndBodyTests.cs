using System.Text;
using Eas.Node.Gateway.Llm;
using Microsoft.AspNetCore.Http;

namespace Eas.Node.Gateway.Tests.Llm;

/// <summary>Settings validation and parsing, and the request-body buffer the gateway routes on.</summary>
public sealed class LlmOptionsAndBodyTests
{
    [Fact]
    public void Defaults_AreValid()
    {
        new LlmRoutingOptions().Validate().Should().BeEmpty();
    }

    [Theory]
    [InlineData("BlockBytes", "8", "Gateway:Llm:BlockBytes 8 is out of range", "from 16 to 1024")]
    [InlineData("KvUsageThreshold", "1.5", "Gateway:Llm:KvUsageThreshold 1.5 is out of range", "at most 1")]
    [InlineData("LoadTolerance", "-1", "Gateway:Llm:LoadTolerance -1 is out of range", "from 0 to 10")]
    [InlineData("QueueCapacity", "-5", "Gateway:Llm:QueueCapacity -5 is out of range", "from 0 to 1000000")]
    [InlineData("MetricsPath", "metrics", "Gateway:Llm:MetricsPath 'metrics' is not valid", "starting with '/'")]
    [InlineData("SessionHeader", "X Session", "Gateway:Llm:SessionHeader 'X Session' is not valid", "header name")]
    [InlineData("MetricsStaleAfterMs", "100", "Gateway:Llm:MetricsStaleAfterMs 100 is out of range", "at least Gateway:Llm:ScrapeIntervalMs")]
    [InlineData("DecisionBudgetMs", "0", "Gateway:Llm:DecisionBudgetMs 0 is out of range", "from 0.01")]
    public void BadValue_MessageNamesKeyRuleAndFix(string key, string value, string what, string rule)
    {
        var options = new LlmRoutingOptions();
        options.TrySet("Gateway:Llm:" + key, value, out var parseProblem).Should().BeTrue(parseProblem);

        options.Validate().Should().ContainSingle().Which.Should().Contain(what).And.Contain(rule).And.Contain("fix:");
    }

    [Fact]
    public void TrySet_ParsesEveryKind_CaseInsensitively()
    {
        var options = new LlmRoutingOptions();

        options.TrySet("blockbytes", "128", out _).Should().BeTrue();
        options.TrySet("Gateway:Llm:LoadTolerance", "0.5", out _).Should().BeTrue();
        options.TrySet("PrefixCapacityFromMetrics", "false", out _).Should().BeTrue();
        options.TrySet("SessionHeader", "X-Session-Id", out _).Should().BeTrue();

        (options.BlockBytes, options.LoadTolerance, options.PrefixCapacityFromMetrics, options.SessionHeader).Should().Be((128, 0.5, false, "X-Session-Id"));
        LlmRoutingOptions.Keys.Should().HaveCount(30).And.OnlyHaveUniqueItems();
    }

    [Fact]
    public void TrySet_UnknownKeyOrBadNumber_NamesKeyAndFix()
    {
        var options = new LlmRoutingOptions();

        options.TrySet("Gateway:Llm:BlockSize", "64", out var unknown).Should().BeFalse();
        unknown.Should().Contain("'Gateway:Llm:BlockSize' is not known").And.Contain("Gateway:Llm:BlockBytes").And.Contain("fix:");
        options.TrySet("QueueTimeoutMs", "30s", out var notNumber).Should().BeFalse();
        notNumber.Should().Contain("'Gateway:Llm:QueueTimeoutMs' has value '30s'").And.Contain("whole number").And.Contain("fix:");
        options.TrySet("LoadSlack", "lots", out var notDecimal).Should().BeFalse();
        notDecimal.Should().Contain("not a number").And.Contain("fix:");
    }

    [Fact]
    public void Router_RefusesInvalidOptions_WithTheMessages()
    {
        FluentActions.Invoking(() => new LlmRouter(new LlmRoutingOptions { BlockBytes = 0 }, Prometheus.Metrics.NewCustomRegistry()))
            .Should().Throw<ArgumentException>().WithMessage("*Gateway:Llm:BlockBytes 0 is out of range*fix:*");
    }

    [Fact]
    public async Task Body_IsBufferedAndStillReadableForForwarding_AndRewinds()
    {
        var bytes = Encoding.UTF8.GetBytes(LlmTestData.Text(1, 50_000));
        var context = new DefaultHttpContext();
        context.Request.Body = new MemoryStream(bytes);

        using var body = await LlmRequestBody.BufferAsync(context.Request, 1 << 20, CancellationToken.None);

        body!.Memory.ToArray().Should().Equal(bytes);
        (await ReadAll(context.Request.Body)).Should().Equal(bytes);
        body.Rewind();
        (await ReadAll(context.Request.Body)).Should().Equal(bytes);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Body_OverTheLimit_IsRefused(bool declared)
    {
        var context = new DefaultHttpContext();
        context.Request.Body = new MemoryStream(new byte[5000]);
        context.Request.ContentLength = declared ? 5000 : null;

        (await LlmRequestBody.BufferAsync(context.Request, 4999, CancellationToken.None)).Should().BeNull();
        using var exact = await LlmRequestBody.BufferAsync(new DefaultHttpContext { Request = { Body = new MemoryStream(new byte[4999]) } }.Request, 4999, CancellationToken.None);
        exact!.Length.Should().Be(4999);
    }

    [Fact]
    public async Task FirstByteStream_ReportsTheFirstBodyWrite_AndPassesEveryByte()
    {
        await using var router = LlmTestData.Router(LlmTestData.Options(), out _);
        using var lease = await router.AcquireAsync("svc", LlmTestData.Replicas(1), LlmTestData.Completion(LlmTestData.Text(1, 4000), stream: true), null);
        var sink = new MemoryStream();
        var context = new DefaultHttpContext();
        context.Response.Body = sink;

        LlmFirstByteStream.Watch(context.Response, lease);
        await context.Response.Body.FlushAsync();
        router.GetStatus("svc").Single().PendingPrefillTokens.Should().Be(1000, "headers and flushes are not the first token");
        await context.Response.Body.WriteAsync("data: {}\n\n"u8.ToArray());
        router.GetStatus("svc").Single().PendingPrefillTokens.Should().Be(0);
        await context.Response.Body.WriteAsync("data: [DONE]\n\n"u8.ToArray());

        Encoding.UTF8.GetString(sink.ToArray()).Should().Be("data: {}\n\ndata: [DONE]\n\n");
        lease.RetryExcluding().Should().BeFalse("the response has started");
    }

    private static async Task<byte[]> ReadAll(Stream stream)
    {
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }
}
