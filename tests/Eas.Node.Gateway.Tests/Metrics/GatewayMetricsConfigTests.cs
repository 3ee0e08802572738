using Eas.Node.Gateway.Configuration;

namespace Eas.Node.Gateway.Tests.Metrics;

public sealed class GatewayMetricsConfigTests
{
    [Fact]
    public void Load_NoArguments_ServesMetricsOnLoopback9192()
    {
        GatewayConfigLoader.Load([], out var problems)!.MetricsListen.Should().Be("http://127.0.0.1:9192");
        problems.Should().BeEmpty();
    }

    [Fact]
    public void Load_EmptyMetricsListen_TurnsMetricsOff()
    {
        GatewayConfigLoader.Load(["--Gateway:MetricsListen="], out var problems)!.MetricsListen.Should().BeEmpty();
        problems.Should().BeEmpty();
    }

    [Fact]
    public void Load_BadMetricsListen_NamesKeyRuleAndFix()
    {
        GatewayConfigLoader.Load(["--Gateway:MetricsListen=https://0.0.0.0:9192"], out var problems).Should().BeNull();

        problems.Should().ContainSingle().Which.Should()
            .Contain("Gateway:MetricsListen 'https://0.0.0.0:9192' is not valid").And.Contain("http://host:port").And.Contain("fix:");
    }

    [Fact]
    public void GatewayOptions_BuiltInCode_ServeNoMetricsUnlessAsked()
    {
        new GatewayOptions().MetricsListen.Should().BeEmpty();
    }
}
