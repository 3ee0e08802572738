using Eas.Node.Agent.State;
using Eas.Node.Contracts.V1;

namespace Eas.Node.Agent.Instances;

/// <summary>What the hooks of one instance share: its record, paths, mounts, container process, readiness and health.</summary>
public sealed class InstanceContext(InstanceRecord record, AgentPaths paths)
{
    /// <summary>The durable record (assignment, phase, ip, restarts, venv).</summary>
    public InstanceRecord Record { get; } = record;

    /// <summary>The assignment.</summary>
    public InstanceAssignment Assignment => Record.Assignment;

    /// <summary>The instance id.</summary>
    public string InstanceId => Record.InstanceId;

    /// <summary>runc / conmon / CNI container id.</summary>
    public string ContainerId => Record.ContainerId;

    /// <summary>The instance's state directory.</summary>
    public string Dir { get; } = paths.InstanceDir(record.InstanceId);

    /// <summary>The OCI bundle directory.</summary>
    public string BundleDir { get; } = paths.BundleDir(record.InstanceId);

    /// <summary>The output log.</summary>
    public string OutputLogPath { get; } = paths.OutputLog(record.InstanceId);

    /// <summary>The pid file conmon writes for the container's init process.</summary>
    public string PidFile => Path.Combine(Dir, "container.pid");

    /// <summary>The pid file conmon writes for itself.</summary>
    public string ConmonPidFile => Path.Combine(Dir, "conmon.pid");

    /// <summary>Mounts the storage hook resolved, in OCI form; the bundle hook writes them.</summary>
    public List<Runtime.OciMount> Mounts { get; } = [];

    /// <summary>The GPU device nodes the GPU hook resolved; the bundle hook writes them.</summary>
    public List<Runtime.OciDevice> Devices { get; } = [];

    /// <summary>What the GPU hook adds to the environment (CUDA_VISIBLE_DEVICES, MPS limits); it wins over the spec's env.</summary>
    public Dictionary<string, string> PlatformEnvironment { get; } = new(StringComparer.Ordinal);

    /// <summary>The running container, once started or re-attached.</summary>
    public ContainerProcess? Process { get; set; }

    /// <summary>
    /// Tells the coordinator how preparing goes (e.g. a cache fill's percentage); shown as the instance's reason
    /// and as Preparing events. Callers should report at most every few seconds.
    /// </summary>
    public Action<string> ReportProgress { get; set; } = _ => { };

    /// <summary>
    /// Called by the health checks when readiness changes: (true, "") when ready, (false, why) when not; the runner turns
    /// it into READY, or RUNNING with the reason the user sees.
    /// </summary>
    public Action<bool, string> ReadinessChanged { get; set; } = (_, _) => { };

    /// <summary>
    /// Called by a health check whose failure means the process must be restarted (liveness, startup), with what failed;
    /// the runner kills the container and starts it again with the crash backoff, counting the restart.
    /// </summary>
    public Action<string> Unhealthy { get; set; } = _ => { };
}
