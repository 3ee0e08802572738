namespace Eas.Node.Agent.State;

/// <summary>Names derived from an instance id, the same in runc, conmon, CNI, netns and cgroups.</summary>
public static class Naming
{
    /// <summary>The container id: "eas-" + instance id (conmon needs more than 12 characters; the prefix also marks ours).</summary>
    public static string ContainerId(string instanceId) => "eas-" + instanceId;

    /// <summary>The network namespace name (same as the container id).</summary>
    public static string NetnsName(string instanceId) => ContainerId(instanceId);

    /// <summary>The network namespace path iproute2 creates.</summary>
    public static string NetnsPath(string instanceId) => "/var/run/netns/" + NetnsName(instanceId);

    /// <summary>The cgroup path given to runc (cgroupfs driver).</summary>
    public static string CgroupsPath(string instanceId) => "/eas/" + ContainerId(instanceId);
}
