using System.Text.Json.Nodes;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.State;

namespace Eas.Node.Agent.Network;

/// <summary>Gives an instance its network namespace and CNI address, and takes them back on stop.</summary>
public sealed class NetworkHook(CniRunner cni, NetworkNamespaces namespaces) : IPrestartHook, IStopHook
{
    /// <inheritdoc/>
    public string Name => "network";

    /// <inheritdoc/>
    public async Task PrestartAsync(InstanceContext context, CancellationToken cancellationToken)
    {
        var name = Naming.NetnsName(context.InstanceId);
        await namespaces.CreateAsync(name, cancellationToken);
        var result = await cni.AddAsync(context.ContainerId, Naming.NetnsPath(context.InstanceId), cancellationToken);
        await File.WriteAllTextAsync(ResultPath(context), result.ToJsonString(), cancellationToken);
        var ip = CniConfig.FirstAddress(result);
        if (ip.Length == 0)
        {
            throw new InstanceFailedException("CNI gave the instance no IPv4 address; check the agent's Subnet");
        }

        context.Record.Ip = ip;
    }

    /// <inheritdoc/>
    public async Task StopAsync(InstanceContext context, CancellationToken cancellationToken)
    {
        JsonNode? cached = null;
        var resultPath = ResultPath(context);
        if (File.Exists(resultPath))
        {
            cached = JsonNode.Parse(await File.ReadAllTextAsync(resultPath, cancellationToken));
        }

        await cni.DeleteAsync(context.ContainerId, Naming.NetnsPath(context.InstanceId), cached, cancellationToken);
        await namespaces.DeleteAsync(Naming.NetnsName(context.InstanceId), cancellationToken);
        File.Delete(resultPath);
    }

    private static string ResultPath(InstanceContext context) => Path.Combine(context.Dir, "cni-result.json");
}
