using System.Text.Json;
using System.Text.Json.Nodes;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.Runtime;
using Eas.Node.Agent.State;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Eas.Node.Agent.Network;

/// <summary>
/// Executes the CNI plugin chain the way a CNI runtime does (spec 1.0): ADD through the plugins in order,
/// each getting the previous result; DEL in reverse order with the cached ADD result.
/// </summary>
public sealed class CniRunner(IOptions<AgentOptions> options, AgentPaths paths, ICommandRunner commands, ILogger<CniRunner> logger)
{
    private readonly AgentOptions _options = options.Value;

    /// <summary>The conflist this agent uses.</summary>
    public JsonObject ConfList => CniConfig.ConfList(_options, paths.Cni);

    /// <summary>Runs ADD for the container in <paramref name="netnsPath"/> and returns the final result.</summary>
    /// <exception cref="InstanceFailedException">A plugin failed; the message carries its CNI error.</exception>
    public async Task<JsonNode> AddAsync(string containerId, string netnsPath, CancellationToken cancellationToken)
    {
        var confList = ConfList;
        JsonNode? result = null;
        foreach (var plugin in ((JsonArray)confList["plugins"]!).Select(p => (JsonObject)p!))
        {
            var output = await InvokeAsync("ADD", plugin, CniConfig.PluginInput(confList, plugin, result), containerId, netnsPath, cancellationToken);
            result = JsonNode.Parse(output) ?? throw new InstanceFailedException($"CNI plugin {plugin["type"]} returned no result");
        }

        return result!;
    }

    /// <summary>Runs DEL in reverse order; errors are logged and the chain goes on (DEL must not get stuck).</summary>
    public async Task DeleteAsync(string containerId, string netnsPath, JsonNode? addResult, CancellationToken cancellationToken)
    {
        var confList = ConfList;
        foreach (var plugin in ((JsonArray)confList["plugins"]!).Select(p => (JsonObject)p!).Reverse())
        {
            try
            {
                await InvokeAsync("DEL", plugin, CniConfig.PluginInput(confList, plugin, addResult), containerId, netnsPath, cancellationToken);
            }
            catch (InstanceFailedException ex)
            {
                NetworkLog.DeleteFailed(logger, containerId, ex.Message);
            }
        }
    }

    private async Task<string> InvokeAsync(string command, JsonObject plugin, JsonObject input, string containerId, string netnsPath, CancellationToken cancellationToken)
    {
        var type = plugin["type"]!.GetValue<string>();
        var binary = Path.Combine(_options.CniPluginDir, type);
        var result = await commands.RunAsync(
            binary,
            [],
            new CommandOptions
            {
                Stdin = input.ToJsonString(),
                Environment = CniConfig.Environment(command, containerId, netnsPath, _options.CniPluginDir),
                Timeout = TimeSpan.FromSeconds(30),
            },
            cancellationToken);
        if (!result.Succeeded)
        {
            throw new InstanceFailedException($"CNI {command} with plugin {type} failed: {Describe(result)}");
        }

        return result.Stdout;
    }

    // Plugins report errors as {"code":N,"msg":"…","details":"…"} on stdout.
    private static string Describe(CommandResult result)
    {
        try
        {
            if (JsonNode.Parse(result.Stdout) is JsonObject error && error["msg"] is { } msg)
            {
                return $"{msg.GetValue<string>()} {error["details"]?.GetValue<string>()}".Trim();
            }
        }
        catch (JsonException)
        {
            // Not JSON: fall through to the raw output.
        }

        return result.Tail();
    }
}
