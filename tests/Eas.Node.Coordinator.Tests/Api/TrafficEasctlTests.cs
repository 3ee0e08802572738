using System.Text.Json.Nodes;
using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Tests.Support;

namespace Eas.Node.Coordinator.Tests.Api;

/// <summary>easctl group, release, records and desc, run as a user runs them, against a real coordinator.</summary>
public sealed class TrafficEasctlTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private TestCoordinator _coordinator = null!;

    private string Records => Path.Combine(_dir.Path, "records");

    public async Task InitializeAsync()
    {
        _coordinator = await TestCoordinator.StartAsync(Path.Combine(_dir.Path, "data"), configure: o => o.RecordsDirectory = Records);
        await _coordinator.Services.CreateServiceAsync(new CreateServiceRequest { SpecJson = GroupTrafficTests.Member("blue", "chat") });
        await _coordinator.Services.CreateServiceAsync(new CreateServiceRequest { SpecJson = GroupTrafficTests.Member("green", "chat") });
    }

    public async Task DisposeAsync()
    {
        await _coordinator.DisposeAsync();
        _dir.Dispose();
    }

    private Task<(int Exit, string Stdout, string Stderr)> Easctl(params string[] args) => Support.Easctl.RunAsync(_coordinator, args);

    [Fact]
    public async Task GroupListDescTraffic_TablesAndJson()
    {
        var list = await Easctl("group", "list");
        var traffic = await Easctl("group", "traffic", "chat", "--mode", "customized");
        var desc = await Easctl("group", "desc", "chat", "-o", "json");
        var services = await Easctl("list");

        list.Exit.Should().Be(0, list.Stderr);
        list.Stdout.Should().Contain("chat").And.Contain("auto").And.Contain("blue, green").And.Contain("/api/predict/chat");
        traffic.Exit.Should().Be(0, traffic.Stderr);
        traffic.Stdout.Should().Contain("group chat: traffic mode customized").And.Contain("SHARE");
        desc.Exit.Should().Be(0, desc.Stderr);
        var json = JsonNode.Parse(desc.Stdout)!;
        json["traffic_mode"]!.GetValue<string>().Should().Be("customized");
        json["members"]!.AsArray().Select(m => m!["service"]!.GetValue<string>()).Should().Equal("blue", "green");
        json["members"]![0]!["weight"]!.GetValue<int>().Should().Be(100);
        services.Stdout.Should().Contain("GROUP").And.MatchRegex(@"blue\s.*\schat\s");
    }

    [Fact]
    public async Task GroupTraffic_BadModeOrUnknownGroup_ExitOneWithTheReason()
    {
        var badMode = await Easctl("group", "traffic", "chat", "--mode", "weighted");
        var unknown = await Easctl("group", "desc", "nope");

        badMode.Exit.Should().NotBe(0);
        badMode.Stderr.Should().Contain("weighted");
        unknown.Exit.Should().Be(1);
        unknown.Stderr.Should().Contain("group 'nope' does not exist");
    }

    [Fact]
    public async Task Release_PrintsTheEasMessage_AndDescShowsTheWeight()
    {
        await _coordinator.Services.SetGroupTrafficAsync(new SetGroupTrafficRequest { Name = "chat", Mode = "customized" });

        var release = await Easctl("release", "green", "--weight", "40", "--standalone");
        var desc = await Easctl("desc", "green");
        var descJson = await Easctl("desc", "green", "-o", "json");

        release.Exit.Should().Be(0, release.Stderr);
        release.Stdout.Trim().Should().Be("Releasing service [green] with weight [40] and traffic state [standalone]");
        desc.Stdout.Should().MatchRegex(@"Group\s+chat").And.MatchRegex(@"Weight\s+40").And.MatchRegex(@"Traffic state\s+standalone");
        var json = JsonNode.Parse(descJson.Stdout)!;
        (json["group"]!.GetValue<string>(), json["weight"]!.GetValue<int>(), json["traffic_state"]!.GetValue<string>()).Should().Be(("chat", 40, "standalone"));
    }

    [Theory]
    [InlineData(new[] { "release", "green" }, "release needs --weight W, --standalone or --grouping")]
    [InlineData(new[] { "release", "green", "--standalone", "--grouping" }, "--standalone and --grouping contradict each other")]
    [InlineData(new[] { "release", "green", "--weight", "1001" }, "--weight 1001: a weight is 0 to 1000")]
    public async Task Release_BadOptions_ExitOneWithAFix(string[] args, string message)
    {
        var result = await Easctl(args);

        result.Exit.Should().Be(1);
        result.Stderr.Should().Contain(message);
        (await _coordinator.Services.DescribeServiceAsync(new ServiceRef { Name = "green" })).Weight.Should().Be(100);
    }

    [Fact]
    public async Task Records_TableByDefault_JsonLinesWithOutputJson()
    {
        Directory.CreateDirectory(Records);
        await File.WriteAllLinesAsync(Path.Combine(Records, "blue.jsonl.1"), Enumerable.Range(1, 30).Select(Line));
        await File.WriteAllLinesAsync(Path.Combine(Records, "blue.jsonl"), Enumerable.Range(31, 3).Select(Line));

        var table = await Easctl("records", "blue");
        var json = await Easctl("records", "blue", "-n", "2", "-o", "json");
        var none = await Easctl("records", "green");

        table.Exit.Should().Be(0, table.Stderr);
        table.Stdout.Should().Contain("STATUS").And.Contain("/v1/chat/completions?n=33").And.Contain("/v1/chat/completions?n=14").And.NotContain("?n=13");
        json.Exit.Should().Be(0, json.Stderr);
        json.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().Equal(Line(32), Line(33));
        none.Exit.Should().Be(0);
        none.Stderr.Should().Contain("no call records").And.Contain("\"sinker\"");

        static string Line(int n) =>
            $$"""{"time":"2025-01-01T00:00:00.000Z","service":"blue","instance":"blue-0000000{{n % 10}}","method":"POST","path":"/v1/chat/completions","query":"n={{n}}","status":{{(n % 2 == 0 ? 200 : 429)}},"latency_ms":12.5,"client":"127.0.0.1"}""";
    }

    [Fact]
    public async Task Help_EachNewVerbDescribesItself()
    {
        foreach (var (args, expected) in new[]
        {
            (new[] { "group", "--help" }, "Service groups"),
            (new[] { "group", "traffic", "--help" }, "--mode"),
            (new[] { "release", "--help" }, "--weight"),
            (new[] { "records", "--help" }, "-n, --lines"),
        })
        {
            var result = await Easctl(args);
            result.Exit.Should().Be(0, result.Stderr);
            result.Stdout.Should().Contain(expected);
        }
    }
}
