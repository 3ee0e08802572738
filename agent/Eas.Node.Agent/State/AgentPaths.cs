using Eas.Node.Agent.Options;
using Microsoft.Extensions.Options;

namespace Eas.Node.Agent.State;

/// <summary>
/// The state directory layout, in one place:
/// <code>
/// StateDir/
///   node.json                    applied (epoch, generation)
///   instances/&lt;id&gt;/instance.json  the record: assignment, phase, ip, restarts
///   instances/&lt;id&gt;/bundle/        OCI bundle (config.json, rootfs/)
///   instances/&lt;id&gt;/output.log     instance output (conmon k8s-file), or
///   instances/&lt;id&gt;/output.journald  present while the output goes to journald (Agent:InstanceLogs)
///   instances/&lt;id&gt;/empty/&lt;n&gt;      disk empty_dir volumes
///   exits/&lt;container id&gt;          exit codes written by conmon
///   sockets/ runc/ cni/ venvs/     conmon attach links, runc root, host-local IPAM, virtual environments
/// </code>
/// </summary>
public sealed class AgentPaths(IOptions<AgentOptions> options)
{
    /// <summary>The state directory.</summary>
    public string Root { get; } = options.Value.StateDir;

    /// <summary>Per-instance directories.</summary>
    public string Instances => Path.Combine(Root, "instances");

    /// <summary>Where conmon writes one exit file per container.</summary>
    public string Exits => Path.Combine(Root, "exits");

    /// <summary>conmon's attach-socket links (kept short: conmon links &lt;dir&gt;/&lt;uuid&gt; to the bundle).</summary>
    public string Sockets => Path.Combine(Root, "sockets");

    /// <summary>runc's state root, private to this agent so two agents never see each other's containers.</summary>
    public string RuncRoot => Path.Combine(Root, "runc");

    /// <summary>host-local IPAM allocations.</summary>
    public string Cni => Path.Combine(Root, "cni");

    /// <summary>Virtual environments, one per requirement set.</summary>
    public string Venvs => Path.Combine(Root, "venvs");

    /// <summary>The node record.</summary>
    public string NodeRecord => Path.Combine(Root, "node.json");

    /// <summary>The directory of one instance.</summary>
    public string InstanceDir(string instanceId) => Path.Combine(Instances, instanceId);

    /// <summary>The record of one instance.</summary>
    public string RecordPath(string instanceId) => Path.Combine(InstanceDir(instanceId), "instance.json");

    /// <summary>The OCI bundle of one instance.</summary>
    public string BundleDir(string instanceId) => Path.Combine(InstanceDir(instanceId), "bundle");

    /// <summary>The output log of one instance.</summary>
    public string OutputLog(string instanceId) => Path.Combine(InstanceDir(instanceId), "output.log");

    /// <summary>The exit file conmon writes for a container.</summary>
    public string ExitFile(string containerId) => Path.Combine(Exits, containerId);
}
