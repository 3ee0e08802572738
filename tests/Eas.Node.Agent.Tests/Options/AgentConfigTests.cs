using Eas.Node.Agent.Options;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Eas.Node.Agent.Tests.Options;

public sealed class AgentConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eas-agent-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TryBuild_UnknownKey_NamesFileKeyAndKnownKeys()
    {
        var path = Write("""{"Agent": {"NodeName": "n1", "HeartbeatSecs": 5}}""");
        var error = new StringWriter();

        var built = AgentHost.TryBuild(["--config", path], error);

        built.Should().BeNull();
        error.ToString().Should().Contain($"{path}: Agent:HeartbeatSecs: unknown key; known keys are NodeName, Coordinator, Address, StateDir")
            .And.Contain("HeartbeatSeconds");
    }

    [Fact]
    public void TryBuild_UnknownSectionAndNonNumber_ReportsEveryProblem()
    {
        var path = Write("""{"Agnet": {}, "Agent": {"CpuMillis": "lots"}}""");
        var error = new StringWriter();

        AgentHost.TryBuild(["--config", path], error).Should().BeNull();

        error.ToString().Should().Contain($"{path}: Agnet: unknown section")
            .And.Contain($"{path}: Agent:CpuMillis: 'lots' is not a whole number");
    }

    [Fact]
    public void TryBuild_UnknownCommandLineOverride_NamesCommandLine()
    {
        var error = new StringWriter();

        AgentHost.TryBuild(["--Agent:Brige=eas1"], error).Should().BeNull();

        error.ToString().Should().Contain("command line: Agent:Brige: unknown key");
    }

    [Fact]
    public void TryBuild_InvalidJson_SaysFileIsNotJson()
    {
        var path = Write("""{"Agent": {""");
        var error = new StringWriter();

        AgentHost.TryBuild(["--config", path], error).Should().BeNull();

        error.ToString().Should().StartWith($"{path}: not valid JSON");
    }

    [Fact]
    public void Options_BadValues_FailValidationWithRuleAndFix()
    {
        var path = Write("""{"Agent": {"Subnet": "10.0.0.0/33", "Bridge": "a-bridge-name-too-long", "HeartbeatSeconds": 0, "Coordinator": "tcp://x", "Runc": "runc"}}""");
        var built = AgentHost.TryBuild(["--config", path], TextWriter.Null);
        built.Should().NotBeNull();
        using var host = built!.Value.Host;

        var act = () => host.Services.GetRequiredService<IOptions<AgentOptions>>().Value;

        var failures = act.Should().Throw<OptionsValidationException>().Which.Failures.ToList();
        failures.Should().Contain(f => f.StartsWith($"{path}: Agent:Subnet: '10.0.0.0/33' is not an IPv4 network", StringComparison.Ordinal));
        failures.Should().Contain(f => f.StartsWith($"{path}: Agent:Bridge:", StringComparison.Ordinal) && f.Contains("1-15", StringComparison.Ordinal));
        failures.Should().Contain(f => f.StartsWith($"{path}: Agent:HeartbeatSeconds: 0 is out of range; use 1 to 60", StringComparison.Ordinal));
        failures.Should().Contain(f => f.StartsWith($"{path}: Agent:Coordinator:", StringComparison.Ordinal));
        failures.Should().Contain(f => f.StartsWith($"{path}: Agent:Runc: 'runc' is not an absolute path", StringComparison.Ordinal));
    }

    [Fact]
    public void Options_Defaults_MatchTheDocumentedValues()
    {
        var built = AgentHost.TryBuild([], TextWriter.Null);
        using var host = built!.Value.Host;

        var options = host.Services.GetRequiredService<IOptions<AgentOptions>>().Value;

        options.NodeName.Should().Be(Environment.MachineName);
        options.Coordinator.Should().Be("http://127.0.0.1:9090");
        options.StateDir.Should().Be("/var/lib/eas/agent");
        options.Bridge.Should().Be("eas0");
        options.Subnet.Should().Be("10.233.0.0/24");
        options.HeartbeatSeconds.Should().Be(2);
        options.PipArgList.Should().BeEmpty();
    }

    [Fact]
    public void Options_FileAndOverride_CommandLineWins()
    {
        var path = Write("""{"Agent": {"NodeName": "from-file", "Labels": {"zone": "a"}, "PipArgs": "--index-url http://127.0.0.1:3141/simple"}}""");
        var built = AgentHost.TryBuild(["--config", path, "--Agent:NodeName=from-cli"], TextWriter.Null);
        using var host = built!.Value.Host;

        var options = host.Services.GetRequiredService<IOptions<AgentOptions>>().Value;

        options.NodeName.Should().Be("from-cli");
        options.Labels.Should().Equal(new Dictionary<string, string> { ["zone"] = "a" });
        options.PipArgList.Should().Equal("--index-url", "http://127.0.0.1:3141/simple");
    }

    [Fact]
    public void TryBuild_CleanupSubcommand_IsRecognized()
    {
        var built = AgentHost.TryBuild(["cleanup", "--Agent:StateDir=/tmp/x"], TextWriter.Null);
        using var host = built!.Value.Host;

        built.Value.Cleanup.Should().BeTrue();
    }

    [Fact]
    public void Options_InstanceLogs_AutoByDefault_OtherValuesNamed()
    {
        using (var host = AgentHost.TryBuild([], TextWriter.Null)!.Value.Host)
        {
            host.Services.GetRequiredService<IOptions<AgentOptions>>().Value.InstanceLogs.Should().Be("auto");
        }

        using var bad = AgentHost.TryBuild(["--Agent:InstanceLogs=syslog"], TextWriter.Null)!.Value.Host;
        var act = () => bad.Services.GetRequiredService<IOptions<AgentOptions>>().Value;

        act.Should().Throw<OptionsValidationException>().Which.Failures
            .Should().Contain(f => f.EndsWith("Agent:InstanceLogs: 'syslog' is not an instance log target; use auto, journald or file", StringComparison.Ordinal));
    }

    [Fact]
    public void TryBuild_LogFlag_IsNotAConfigKey_AndABadValueIsNamed()
    {
        using (var host = AgentHost.TryBuild(["--log", "console", "--Agent:NodeName=n1"], TextWriter.Null)!.Value.Host)
        {
            host.Services.GetRequiredService<IOptions<AgentOptions>>().Value.NodeName.Should().Be("n1");
        }

        var error = new StringWriter();
        AgentHost.TryBuild(["--log", "syslog"], error).Should().BeNull();
        error.ToString().Should().StartWith("--log syslog: 'syslog' is not a log target; write --log journald, --log console or --log auto");
    }

    private string Write(string json)
    {
        var path = Path.Combine(_dir, "agent.json");
        File.WriteAllText(path, json);
        return path;
    }
}
