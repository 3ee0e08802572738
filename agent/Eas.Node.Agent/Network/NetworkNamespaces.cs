using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Runtime;

namespace Eas.Node.Agent.Network;

/// <summary>Named network namespaces (<c>ip netns</c>), one per instance, and the agent's bridge.</summary>
public sealed class NetworkNamespaces(ICommandRunner commands)
{
    private const string Ip = "ip";

    /// <summary>Creates the namespace (unless it exists) and brings its loopback up.</summary>
    public async Task CreateAsync(string name, CancellationToken cancellationToken)
    {
        if (!File.Exists("/var/run/netns/" + name))
        {
            var add = await commands.RunAsync(Ip, ["netns", "add", name], cancellationToken: cancellationToken);
            if (!add.Succeeded && !add.Stderr.Contains("File exists", StringComparison.Ordinal))
            {
                throw new InstanceFailedException($"ip netns add {name} failed: {add.Tail()}");
            }
        }

        var up = await commands.RunAsync(Ip, ["-n", name, "link", "set", "lo", "up"], cancellationToken: cancellationToken);
        if (!up.Succeeded)
        {
            throw new InstanceFailedException($"bringing up loopback in {name} failed: {up.Tail()}");
        }
    }

    /// <summary>Deletes the namespace; nothing to do when it is gone.</summary>
    public async Task DeleteAsync(string name, CancellationToken cancellationToken)
    {
        if (File.Exists("/var/run/netns/" + name))
        {
            await commands.RunAsync(Ip, ["netns", "delete", name], cancellationToken: cancellationToken);
        }
    }

    /// <summary>Deletes a bridge interface; nothing to do when it is gone.</summary>
    public async Task DeleteBridgeAsync(string bridge, CancellationToken cancellationToken)
    {
        if (Directory.Exists("/sys/class/net/" + bridge))
        {
            await commands.RunAsync(Ip, ["link", "delete", bridge], cancellationToken: cancellationToken);
        }
    }
}
