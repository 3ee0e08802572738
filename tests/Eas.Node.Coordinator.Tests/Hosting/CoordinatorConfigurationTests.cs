using Eas.Node.Coordinator.Hosting;
using Eas.Node.Coordinator.Tests.Support;

namespace Eas.Node.Coordinator.Tests.Hosting;

public sealed class CoordinatorConfigurationTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Load_NoArguments_Defaults()
    {
        var result = CoordinatorConfiguration.Load([]);

        result.Errors.Should().BeEmpty();
        result.Options!.Listen.Should().Be("http://127.0.0.1:9090");
        result.Options.DataDir.Should().Be("/var/lib/eas/coordinator");
        result.Options.EmbeddedGateway.Should().BeTrue();
        result.Options.EffectivePublicEndpoint.Should().Be("http://127.0.0.1:8080");
        result.Options.NodeGraceSeconds.Should().Be(10);
        result.Options.HeartbeatSeconds.Should().Be(2);
        result.Options.MaxRequestBodyBytes.Should().Be(1048576);
    }

    [Fact]
    public void Load_FileAndOverride_OverrideWins()
    {
        var path = Write("""{"Coordinator": {"Listen": "http://127.0.0.1:9191", "DataDir": "/srv/eas", "PublicEndpoint": "https://eas.example/"}}""");

        var result = CoordinatorConfiguration.Load(["--config", path, "--Coordinator:NodeGraceSeconds=30"]);

        result.Errors.Should().BeEmpty();
        result.Options!.Listen.Should().Be("http://127.0.0.1:9191");
        result.Options.DataDir.Should().Be("/srv/eas");
        result.Options.NodeGraceSeconds.Should().Be(30);
        result.Options.EffectivePublicEndpoint.Should().Be("https://eas.example");
    }

    [Fact]
    public void Load_UnknownKey_ErrorNamesFileAndKey()
    {
        var path = Write("""{"Coordinator": {"Listn": "http://127.0.0.1:9090"}}""");

        var result = CoordinatorConfiguration.Load(["--config", path]);

        result.Options.Should().BeNull();
        result.Errors.Should().ContainSingle().Which.Should().Contain(path).And.Contain("Coordinator:Listn").And.Contain("not a known setting");
    }

    [Fact]
    public void Load_WrongTypeAndRange_EveryErrorNamesKeyAndRule()
    {
        var path = Write("""{"Coordinator": {"NodeGraceSeconds": "ten", "EmbeddedGateway": 1}}""");

        var result = CoordinatorConfiguration.Load(["--config", path]);

        result.Options.Should().BeNull();
        result.Errors.Should().HaveCount(2);
        result.Errors.Should().Contain(e => e.Contains("Coordinator:NodeGraceSeconds") && e.Contains("whole number"));
        result.Errors.Should().Contain(e => e.Contains("Coordinator:EmbeddedGateway") && e.Contains("true or false"));
    }

    [Fact]
    public void Load_ValueOutOfRange_ErrorNamesRuleAndFix()
    {
        var path = Write("""{"Coordinator": {"HeartbeatSeconds": 20, "DataDir": "relative/dir"}}""");

        var result = CoordinatorConfiguration.Load(["--config", path]);

        result.Errors.Should().Contain(e => e.Contains("Coordinator:HeartbeatSeconds") && e.Contains("less than NodeGraceSeconds"));
        result.Errors.Should().Contain(e => e.Contains("Coordinator:DataDir") && e.Contains("absolute path"));
    }

    [Fact]
    public void Load_UnknownCommandLineKey_Error()
    {
        var result = CoordinatorConfiguration.Load(["--Coordinator:Nope=1"]);

        result.Options.Should().BeNull();
        result.Errors.Should().ContainSingle().Which.Should().Contain("Nope");
    }

    [Fact]
    public void Load_GatewaySection_ConfiguresTheEmbeddedGateway_OverridesToo()
    {
        var path = Write("""{"Coordinator": {"DataDir": "/srv/eas"}, "Gateway": {"Llm": {"HotPrefixShare": 2, "LoadSlack": 6}, "Records": {"MaxFiles": 3}, "Tracing": {"OtlpProtocol": "grpc"}}}""");

        var result = CoordinatorConfiguration.Load(["--config", path, "--Gateway:Llm:LoadSlack=8"]);

        result.Errors.Should().BeEmpty();
        var gateway = result.Options!.EmbeddedGatewaySettings;
        gateway.Llm.HotPrefixShare.Should().Be(2);
        gateway.Llm.LoadSlack.Should().Be(8, "the command line wins over the file");
        gateway.Records.MaxFiles.Should().Be(3);
        gateway.Tracing.OtlpProtocol.Should().Be("grpc");
        CoordinatorConfiguration.Load([]).Options!.EmbeddedGatewaySettings.Llm.HotPrefixShare.Should().Be(1, "the default");
    }

    [Fact]
    public void Load_GatewaySection_KeysTheCoordinatorHoldsAndBadValues_EachNamedWithTheFix()
    {
        var path = Write("""{"Gateway": {"Listen": "http://0.0.0.0:80", "Records": {"Directory": "/tmp/r"}, "Llm": {"HotPrefixShare": 100, "Nope": 1}}}""");

        var result = CoordinatorConfiguration.Load(["--config", path]);

        result.Options.Should().BeNull();
        result.Errors.Should().Contain(e => e.Contains(path) && e.Contains("Gateway:Listen") && e.Contains("Coordinator:GatewayListen"));
        result.Errors.Should().Contain(e => e.Contains("Gateway:Records:Directory") && e.Contains("Coordinator:RecordsDirectory"));
        result.Errors.Should().Contain(e => e.Contains("Nope"));
        CoordinatorConfiguration.Load(["--Gateway:Llm:HotPrefixShare=100"]).Errors.Should().ContainSingle()
            .Which.Should().Contain("HotPrefixShare").And.Contain("64");
        CoordinatorConfiguration.Load(["--config", Write("""{"Gateway": 5}""")]).Errors.Should().ContainSingle()
            .Which.Should().Contain("'Gateway' must be an object");
    }

    [Fact]
    public void Load_MissingFile_ErrorNamesFile()
    {
        var path = Path.Combine(_dir.Path, "absent.json");

        var result = CoordinatorConfiguration.Load(["--config", path]);

        result.Errors.Should().ContainSingle().Which.Should().Contain(path).And.Contain("does not exist");
    }

    [Theory]
    [InlineData("http://0.0.0.0:9090", "http://127.0.0.1:9090")]
    [InlineData("http://[::]:9191", "http://127.0.0.1:9191")]
    [InlineData("http://127.0.0.1:40000", "http://127.0.0.1:40000")]
    public void LoopbackUrl_WildcardListen_Loopback(string listen, string expected) =>
        EmbeddedGatewayService.LoopbackUrl(listen).Should().Be(expected);

    private string Write(string json)
    {
        var path = Path.Combine(_dir.Path, "coordinator.json");
        File.WriteAllText(path, json);
        return path;
    }
}
