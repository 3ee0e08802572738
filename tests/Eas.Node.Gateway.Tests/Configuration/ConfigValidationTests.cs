using System.Diagnostics;
using Eas.Node.Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Eas.Node.Gateway.Tests.Configuration;

public sealed class ConfigValidationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eas-gateway-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Load_NoArguments_Defaults()
    {
        var options = GatewayConfigLoader.Load([], out var problems);

        problems.Should().BeEmpty();
        options!.Listen.Should().Be("http://127.0.0.1:8080");
        options.Coordinator.Should().Be("http://127.0.0.1:9090");
        options.MaxRequestBodyBytes.Should().Be(1048576);
        options.Name.Should().NotBeNullOrWhiteSpace();
        options.StaticRoutes.Should().BeNull();
    }

    [Fact]
    public void Load_TracingSection_ReadFromFileAndCommandLine()
    {
        var file = Write("""{"Gateway": {"Tracing": {"OtlpEndpoint": "http://127.0.0.1:4318"}}}""");

        var options = GatewayConfigLoader.Load(["--config", file, "--Gateway:Tracing:OtlpProtocol=grpc"], out var problems);

        problems.Should().BeEmpty();
        options!.Tracing.OtlpEndpoint.Should().Be("http://127.0.0.1:4318");
        options.Tracing.OtlpProtocol.Should().Be("grpc");
        GatewayConfigLoader.Load([], out _)!.Tracing.OtlpEndpoint.Should().BeNull("tracing is off unless configured");
    }

    [Theory]
    [InlineData("--Gateway:Tracing:OtlpEndpoint=collector:4318", "Gateway:Tracing:OtlpEndpoint 'collector:4318' is not valid")]
    [InlineData("--Gateway:Tracing:OtlpProtocol=zipkin", "Gateway:Tracing:OtlpProtocol 'zipkin' is not known")]
    public void Load_BadTracingSetting_NamesTheKeyAndTheFix(string argument, string expected)
    {
        var options = GatewayConfigLoader.Load([argument], out var problems);

        options.Should().BeNull();
        problems.Should().ContainSingle().Which.Should().Contain(expected).And.Contain("fix:");
    }

    [Fact]
    public void Load_FileAndOverrides_OverridesWin()
    {
        var file = Write("""{"Gateway": {"Listen": "http://0.0.0.0:8081", "MaxRequestBodyBytes": 2048, "Name": "gw-a"}}""");

        var options = GatewayConfigLoader.Load(["--config", file, "--Gateway:Name=gw-b", "--Gateway:Coordinator", "http://10.0.0.1:9090"], out var problems);

        problems.Should().BeEmpty();
        options!.Listen.Should().Be("http://0.0.0.0:8081");
        options.MaxRequestBodyBytes.Should().Be(2048);
        options.Name.Should().Be("gw-b");
        options.Coordinator.Should().Be("http://10.0.0.1:9090");
    }

    [Fact]
    public void Load_UnknownKey_NamesFileKeyAndFix()
    {
        var file = Write("""{"Gateway": {"Listn": "http://0.0.0.0:8081"}}""");

        GatewayConfigLoader.Load(["--config", file], out var problems).Should().BeNull();

        problems.Should().ContainSingle().Which.Should()
            .Contain($"config file {file}").And.Contain("'Gateway:Listn'").And.Contain("not known").And.Contain("Gateway:Listen").And.Contain("fix:");
    }

    [Fact]
    public void Load_UnknownSection_Refused()
    {
        var file = Write("""{"Gateway": {}, "Gatway": {"Name": "x"}}""");

        GatewayConfigLoader.Load(["--config", file], out var problems).Should().BeNull();

        problems.Should().ContainSingle().Which.Should().Contain("'Gatway:Name'").And.Contain("not known");
    }

    [Theory]
    [InlineData("""{"Gateway": {"MaxRequestBodyBytes": "lots"}}""", "'Gateway:MaxRequestBodyBytes' has value 'lots'", "whole number")]
    [InlineData("""{"Gateway": {"MaxRequestBodyBytes": 0}}""", "Gateway:MaxRequestBodyBytes 0 is out of range", "from 1 to")]
    [InlineData("""{"Gateway": {"Listen": "https://0.0.0.0:8443"}}""", "Gateway:Listen 'https://0.0.0.0:8443' is not valid", "http://host:port")]
    [InlineData("""{"Gateway": {"Listen": "http://0.0.0.0:99999"}}""", "Gateway:Listen 'http://0.0.0.0:99999' is not valid", "0 to 65535")]
    [InlineData("""{"Gateway": {"Coordinator": "coordinator:9090"}}""", "Gateway:Coordinator 'coordinator:9090' is not valid", "absolute http://")]
    [InlineData("""{"Gateway": {"StaticRoutes": "/nonexistent/routes.json"}}""", "Gateway:StaticRoutes '/nonexistent/routes.json' does not exist", "fix:")]
    public void Load_BadValue_NamesFileKeyAndRule(string json, string what, string rule)
    {
        var file = Write(json);

        GatewayConfigLoader.Load(["--config", file], out var problems).Should().BeNull();

        problems.Should().ContainSingle().Which.Should().Contain(file).And.Contain(what).And.Contain(rule).And.Contain("fix:");
    }

    [Fact]
    public void Load_BadOverride_NamesCommandLine()
    {
        GatewayConfigLoader.Load(["--Gateway:MaxRequestBodyBytes=-1"], out var problems).Should().BeNull();

        problems.Should().ContainSingle().Which.Should().StartWith("command line: key 'Gateway:MaxRequestBodyBytes'");
    }

    [Fact]
    public void Load_InvalidJson_NamesFile()
    {
        var file = Write("""{"Gateway": {"Listen": """);

        GatewayConfigLoader.Load(["--config", file], out var problems).Should().BeNull();

        problems.Should().ContainSingle().Which.Should().Contain($"config file {file}").And.Contain("not valid JSON");
    }

    [Fact]
    public void Load_MissingFile_NamesFile()
    {
        GatewayConfigLoader.Load(["--config", "/nonexistent/gateway.json"], out var problems).Should().BeNull();

        problems.Should().ContainSingle().Which.Should().Contain("/nonexistent/gateway.json").And.Contain("does not exist");
    }

    [Fact]
    public void Load_BadStaticRoutesFile_NamesFileAndFormat()
    {
        var routes = Write("""{"services": [{"name": "x", "endpoints": "not a list"}]}""");

        GatewayConfigLoader.Load(["--static-routes", routes], out var problems).Should().BeNull();

        problems.Should().ContainSingle().Which.Should().Contain($"static routes file {routes}").And.Contain("EndpointSnapshot");
    }

    [Fact]
    public void Build_InvalidOptions_Throws()
    {
        var act = () => GatewayApp.Build(new GatewayOptions { Listen = "ftp://x", MaxRequestBodyBytes = 0 });

        act.Should().Throw<OptionsValidationException>()
            .Which.Failures.Should().HaveCount(2).And.Contain(f => f.Contains("Gateway:Listen")).And.Contain(f => f.Contains("Gateway:MaxRequestBodyBytes"));
    }

    [Fact]
    public async Task EasGateway_UnknownKeyInConfig_ExitsNonZeroNamingFileAndKey()
    {
        var file = Write("""{"Gateway": {"Listen": "http://127.0.0.1:0", "Timeout": 5}}""");
        var dll = Path.Combine(AppContext.BaseDirectory, "eas-gateway.dll");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        start.ArgumentList.Add(dll);
        start.ArgumentList.Add("--config");
        start.ArgumentList.Add(file);

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var exited = process.WaitForExit(TimeSpan.FromSeconds(30));
        if (!exited)
        {
            process.Kill();
        }

        exited.Should().BeTrue();
        process.ExitCode.Should().NotBe(0);
        (await stderr).Should().Contain($"eas-gateway: config file {file}: key 'Gateway:Timeout' is not known");
    }

    private string Write(string json)
    {
        var path = Path.Combine(_dir, $"{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }
}
