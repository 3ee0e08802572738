using Eas.Node.Agent.Gpus;
using Eas.Node.Agent.Health;
using Eas.Node.Agent.Network;
using Eas.Node.Agent.Prepare;
using Eas.Node.Agent.Runtime;
using Eas.Node.Agent.Storage;

namespace Eas.Node.Agent.Instances;

/// <summary>The hooks every instance runs, in order (stop hooks run in the reverse of prestart order).</summary>
public sealed class InstanceHooks
{
    /// <summary>Wires the agent's hooks.</summary>
    public InstanceHooks(VenvHook venv, StorageHook storage, NetworkHook network, GpuHook gpu, ContainerHook container, ProbeHook probes)
    {
        Prestart = [venv, storage, network, gpu, container];
        Poststart = [probes];
        Prekill = [container];
        Exited = [container];
        Stop = Prestart.Reverse().OfType<IStopHook>().ToArray();
    }

    /// <summary>venv → storage → network → GPUs → bundle.</summary>
    public IReadOnlyList<IPrestartHook> Prestart { get; }

    /// <summary>health checks: startup, readiness (a TCP connect to the port by default), liveness.</summary>
    public IReadOnlyList<IPoststartHook> Poststart { get; }

    /// <summary>SIGTERM when enabled.</summary>
    public IReadOnlyList<IPrekillHook> Prekill { get; }

    /// <summary>reap the exited container.</summary>
    public IReadOnlyList<IExitedHook> Exited { get; }

    /// <summary>container → network → storage.</summary>
    public IReadOnlyList<IStopHook> Stop { get; }
}
