using System.Text.Json.Nodes;
using Eas.Node.Agent.Network;
using Eas.Node.Agent.Options;

namespace Eas.Node.Agent.Tests.Network;

public sealed class CniConfigTests
{
    private static readonly AgentOptions _options = new() { Bridge = "eastest7", Subnet = "10.234.7.0/24" };

    [Fact]
    public void ConfList_BridgeWithHostLocalThenPortmap()
    {
        var list = CniConfig.ConfList(_options, "/state/cni");

        list["cniVersion"]!.GetValue<string>().Should().Be("1.0.0");
        list["name"]!.GetValue<string>().Should().Be("eas-eastest7");
        var plugins = list["plugins"]!.AsArray();
        plugins.Select(p => p!["type"]!.GetValue<string>()).Should().Equal("bridge", "portmap");
        var bridge = plugins[0]!;
        bridge["bridge"]!.GetValue<string>().Should().Be("eastest7");
        bridge["isGateway"]!.GetValue<bool>().Should().BeTrue();
        bridge["ipMasq"]!.GetValue<bool>().Should().BeFalse();
        bridge["ipam"]!["type"]!.GetValue<string>().Should().Be("host-local");
        bridge["ipam"]!["dataDir"]!.GetValue<string>().Should().Be("/state/cni");
        bridge["ipam"]!["ranges"]![0]![0]!["subnet"]!.GetValue<string>().Should().Be("10.234.7.0/24");
        bridge["ipam"]!["routes"]![0]!["dst"]!.GetValue<string>().Should().Be("0.0.0.0/0");
        plugins[1]!["capabilities"]!["portMappings"]!.GetValue<bool>().Should().BeTrue();
    }

    [Fact]
    public void ConfList_OutboundNetwork_Masquerades()
    {
        var options = new AgentOptions { Bridge = "eastest7", Subnet = "10.234.7.0/24", OutboundNetwork = true };

        var bridge = CniConfig.ConfList(options, "/state/cni")["plugins"]![0]!;

        bridge["ipMasq"]!.GetValue<bool>().Should().BeTrue();
    }

    [Fact]
    public void PluginInput_CarriesNameVersionAndPreviousResult()
    {
        var list = CniConfig.ConfList(_options, "/state/cni");
        var previous = JsonNode.Parse("""{"cniVersion":"1.0.0","ips":[{"address":"10.234.7.2/24"}]}""");

        var first = CniConfig.PluginInput(list, list["plugins"]![0]!.AsObject(), null);
        var second = CniConfig.PluginInput(list, list["plugins"]![1]!.AsObject(), previous);

        first["name"]!.GetValue<string>().Should().Be("eas-eastest7");
        first["cniVersion"]!.GetValue<string>().Should().Be("1.0.0");
        first.ContainsKey("prevResult").Should().BeFalse();
        second["prevResult"]!["ips"]![0]!["address"]!.GetValue<string>().Should().Be("10.234.7.2/24");
    }

    [Fact]
    public void Environment_HasTheCniVariables()
    {
        var env = CniConfig.Environment("ADD", "eas-i-1", "/var/run/netns/eas-i-1", "/usr/lib/cni");

        env.Should().Equal(new Dictionary<string, string>
        {
            ["CNI_COMMAND"] = "ADD",
            ["CNI_CONTAINERID"] = "eas-i-1",
            ["CNI_NETNS"] = "/var/run/netns/eas-i-1",
            ["CNI_IFNAME"] = "eth0",
            ["CNI_PATH"] = "/usr/lib/cni",
        });
    }

    [Theory]
    [InlineData("""{"ips":[{"address":"10.234.7.5/24"}]}""", "10.234.7.5")]
    [InlineData("""{"ips":[{"address":"fd00::5/64"},{"address":"10.234.7.6/24"}]}""", "10.234.7.6")]
    [InlineData("""{"interfaces":[]}""", "")]
    public void FirstAddress_PicksTheFirstIpv4(string result, string expected)
    {
        CniConfig.FirstAddress(JsonNode.Parse(result)).Should().Be(expected);
    }
}
