using Eas.Node.Agent.Gpus;
using Eas.Node.Agent.Interop;
using Eas.Node.Agent.Network;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.Runtime;
using Eas.Node.Agent.State;
using Eas.Node.Agent.Storage;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Eas.Node.Agent.Instances;

/// <summary>
/// <c>eas-agent cleanup</c>: kills and removes every instance of this agent (recorded ones, unrecorded
/// directories and containers in its runc root), then its bridge and CNI allocations. Run it with the
/// agent stopped. Virtual environments stay: they are a cache.
/// </summary>
public sealed class AgentCleanup(
    IOptions<AgentOptions> options,
    StateStore store,
    InstanceHooks hooks,
    ConmonRuncDriver driver,
    NetworkNamespaces namespaces,
    CgroupLayout cgroups,
    MpsDaemons mps,
    ILogger<AgentCleanup> logger)
{
    /// <summary>Removes everything; returns how many instances were removed.</summary>
    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var paths = store.Paths;
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var records = store.LoadAll().ToDictionary(r => r.InstanceId, StringComparer.Ordinal);
        ids.UnionWith(records.Keys);
        if (Directory.Exists(paths.Instances))
        {
            ids.UnionWith(Directory.EnumerateDirectories(paths.Instances).Select(d => Path.GetFileName(d)!));
        }

        if (Directory.Exists(paths.RuncRoot))
        {
            ids.UnionWith((await driver.ListAsync(cancellationToken)).Where(c => c.StartsWith("eas-", StringComparison.Ordinal)).Select(c => c["eas-".Length..]));
        }

        foreach (var id in ids)
        {
            var record = records.GetValueOrDefault(id) ?? new InstanceRecord { Assignment = new InstanceAssignment { InstanceId = id } };
            var context = new InstanceContext(record, paths) { Process = ConmonRuncDriver.LoadProcess(new InstanceContext(record, paths)) };
            if (context.Process is { } process)
            {
                Signals.Send(process.Pid, Signals.Kill);
            }

            foreach (var hook in hooks.Stop)
            {
                try
                {
                    await hook.StopAsync(context, cancellationToken);
                }
                catch (Exception ex)
                {
                    InstanceLog.StopHookFailed(logger, id, hook.Name, ex.Message);
                }
            }

            store.Delete(id);
            CleanupLog.Removed(logger, id);
        }

        // Shared oss/nfs mounts the instances' release left (or that no recorded instance uses), and their s3fs daemons.
        await SharedHostMounts.CleanupAsync(paths.Root, logger, cancellationToken);
        await mps.RetainOnlyAsync(new HashSet<string>(), cancellationToken);
        cgroups.RemoveEmptyParents();
        await namespaces.DeleteBridgeAsync(options.Value.Bridge, cancellationToken);
        foreach (var dir in new[] { paths.Cni, paths.Exits, paths.Sockets, paths.RuncRoot })
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }

        File.Delete(paths.NodeRecord);
        CleanupLog.Done(logger, ids.Count, options.Value.Bridge);
        return ids.Count;
    }
}
