using System.Text.Json.Nodes;
using Eas.Node.Agent.Options;

namespace Eas.Node.Agent.Network;

/// <summary>The CNI network list the agent runs: bridge (host-local IPAM) then portmap.</summary>
public static class CniConfig
{
    /// <summary>The CNI spec version used.</summary>
    public const string Version = "1.0.0";

    /// <summary>The interface name inside the instance.</summary>
    public const string InterfaceName = "eth0";

    /// <summary>The network name: per bridge, so two agents on one host keep separate host-local allocations.</summary>
    public static string NetworkName(AgentOptions options) => "eas-" + options.Bridge;

    /// <summary>The conflist (as a CNI runtime would read it from a file).</summary>
    public static JsonObject ConfList(AgentOptions options, string ipamDataDir) => new()
    {
        ["cniVersion"] = Version,
        ["name"] = NetworkName(options),
        ["plugins"] = new JsonArray(
            new JsonObject
            {
                ["type"] = "bridge",
                ["bridge"] = options.Bridge,
                ["isGateway"] = true,
                ["ipMasq"] = options.OutboundNetwork,
                ["hairpinMode"] = true,
                ["ipam"] = new JsonObject
                {
                    ["type"] = "host-local",
                    ["ranges"] = new JsonArray(new JsonArray(new JsonObject { ["subnet"] = options.Subnet })),
                    ["routes"] = new JsonArray(new JsonObject { ["dst"] = "0.0.0.0/0" }),
                    ["dataDir"] = ipamDataDir,
                },
            },
            new JsonObject
            {
                ["type"] = "portmap",
                ["capabilities"] = new JsonObject { ["portMappings"] = true },
                ["snat"] = true,
            }),
    };

    /// <summary>
    /// The stdin of one plugin in the chain: its own config plus the list's name and version, and the
    /// previous plugin's result (CNI spec, "Network configuration lists").
    /// </summary>
    public static JsonObject PluginInput(JsonObject confList, JsonObject plugin, JsonNode? previousResult)
    {
        var input = (JsonObject)plugin.DeepClone();
        input["cniVersion"] = confList["cniVersion"]!.DeepClone();
        input["name"] = confList["name"]!.DeepClone();
        if (previousResult is not null)
        {
            input["prevResult"] = previousResult.DeepClone();
        }

        return input;
    }

    /// <summary>The CNI_* environment of one plugin call.</summary>
    public static Dictionary<string, string> Environment(string command, string containerId, string netnsPath, string pluginDir) => new(StringComparer.Ordinal)
    {
        ["CNI_COMMAND"] = command,
        ["CNI_CONTAINERID"] = containerId,
        ["CNI_NETNS"] = netnsPath,
        ["CNI_IFNAME"] = InterfaceName,
        ["CNI_PATH"] = pluginDir,
    };

    /// <summary>The first IPv4 address of a CNI result, without its prefix length; "" when none.</summary>
    public static string FirstAddress(JsonNode? result)
    {
        if (result?["ips"] is not JsonArray ips)
        {
            return "";
        }

        foreach (var ip in ips)
        {
            var address = ip?["address"]?.GetValue<string>() ?? "";
            var slash = address.IndexOf('/', StringComparison.Ordinal);
            var bare = slash > 0 ? address[..slash] : address;
            if (System.Net.IPAddress.TryParse(bare, out var parsed) && parsed.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
            {
                return bare;
            }
        }

        return "";
    }
}
