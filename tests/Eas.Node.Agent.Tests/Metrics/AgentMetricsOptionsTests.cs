using Eas.Node.Agent.Options;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Eas.Node.Agent.Tests.Metrics;

public sealed class AgentMetricsOptionsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eas-agent-metrics-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void MetricsListen_Default_IsLoopback9191()
    {
        using var host = AgentHost.TryBuild([], TextWriter.Null)!.Value.Host;

        host.Services.GetRequiredService<IOptions<AgentOptions>>().Value.MetricsListen.Should().Be("http://127.0.0.1:9191");
    }

    [Fact]
    public void MetricsListen_Empty_IsAccepted()
    {
        using var host = AgentHost.TryBuild(["--Agent:MetricsListen="], TextWriter.Null)!.Value.Host;

        host.Services.GetRequiredService<IOptions<AgentOptions>>().Value.MetricsListen.Should().BeEmpty();
    }

    [Fact]
    public void MetricsListen_NotHttpHostPort_NamesFileKeyRuleAndFix()
    {
        var path = Path.Combine(_dir, "agent.json");
        File.WriteAllText(path, """{"Agent": {"MetricsListen": "0.0.0.0:9191"}}""");
        using var host = AgentHost.TryBuild(["--config", path], TextWriter.Null)!.Value.Host;

        var act = () => host.Services.GetRequiredService<IOptions<AgentOptions>>().Value;

        act.Should().Throw<OptionsValidationException>().Which.Failures.Should().ContainSingle().Which.Should()
            .StartWith($"{path}: Agent:MetricsListen: '0.0.0.0:9191' is not an http://address:port address").And.Contain("http://127.0.0.1:9191");
    }

    [Theory]
    [InlineData("http://metrics.example:9191")]
    [InlineData("https://127.0.0.1:9191")]
    [InlineData("http://127.0.0.1:99999")]
    [InlineData("http://127.0.0.1")]
    public void MetricsListen_NotAnAddressThisHostCanBind_IsRefused(string url)
    {
        using var host = AgentHost.TryBuild([$"--Agent:MetricsListen={url}"], TextWriter.Null)!.Value.Host;

        var act = () => host.Services.GetRequiredService<IOptions<AgentOptions>>().Value;

        act.Should().Throw<OptionsValidationException>().Which.Failures.Should().ContainSingle(f => f.Contains("Agent:MetricsListen", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("http://0.0.0.0:9191")]
    [InlineData("http://*:9191/")]
    [InlineData("http://localhost:0")]
    [InlineData("http://[::1]:9191;http://127.0.0.1:9191")]
    public void MetricsListen_Addresses_AreAccepted(string url)
    {
        using var host = AgentHost.TryBuild([$"--Agent:MetricsListen={url}"], TextWriter.Null)!.Value.Host;

        host.Services.GetRequiredService<IOptions<AgentOptions>>().Value.MetricsListen.Should().Be(url);
    }

    [Fact]
    public void MetricsListen_AnObject_IsRefusedByTheKeyChecker()
    {
        var path = Path.Combine(_dir, "agent.json");
        File.WriteAllText(path, """{"Agent": {"MetricsListen": {"Url": "http://127.0.0.1:9191"}}}""");
        var error = new StringWriter();

        AgentHost.TryBuild(["--config", path], error).Should().BeNull();

        error.ToString().Should().Contain($"{path}: Agent:MetricsListen: must be a single value");
    }
}
