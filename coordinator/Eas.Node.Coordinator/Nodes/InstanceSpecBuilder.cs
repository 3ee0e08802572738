using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Gpus;
using Eas.Node.Coordinator.Store;
using Eas.Node.Spec;

namespace Eas.Node.Coordinator.Nodes;

/// <summary>Turns a validated service spec into the runtime view an agent needs (<see cref="InstanceSpec"/>).</summary>
public static class InstanceSpecBuilder
{
    /// <summary>The instance spec for one instance of <paramref name="spec"/>, with the GPUs it was placed with.</summary>
    public static InstanceSpec Build(ServiceSpec spec, GpuAllocationRecord? gpu = null)
    {
        var container = spec.Container
            ?? throw new InvalidOperationException($"service {spec.Name} is an {spec.Type} and runs no instances; nothing may be placed for it");
        var result = new InstanceSpec
        {
            Image = container.Image,
            Script = container.Script ?? "",
            Port = container.Port,
            CpuMillis = spec.CpuMillis,
            MemoryMib = spec.MemoryMb,
            ShmMib = spec.ShmMib,
            PythonRequirementsPath = container.PythonRequirementsPath ?? "",
            EnableSigterm = spec.EnableSigterm,
            TerminationGraceSeconds = spec.TerminationGracePeriodSeconds,
            Gpu = gpu is null ? null : GpuMapping.ToMessage(gpu),
            StartupCheck = BuildProbe(container.StartupCheck, container.Port),
            ReadinessCheck = BuildProbe(container.ReadinessCheck, container.Port),
            LivenessCheck = BuildProbe(container.LivenessCheck, container.Port),
            CrashBlock = spec.EnableCrashBlock,
        };
        if (container.Command is { } command)
        {
            result.Command.AddRange(command);
        }

        foreach (var variable in container.Env)
        {
            result.Env[variable.Name] = variable.Value;
        }

        result.PythonRequirements.AddRange(container.PythonRequirements);
        foreach (var storage in spec.Storage)
        {
            result.Mounts.Add(BuildMount(storage));
        }

        return result;
    }

    /// <summary>A probe as the agent runs it: every number set, the port resolved to the container's when the spec gave none.</summary>
    private static Probe? BuildProbe(ProbeSpec? probe, int containerPort)
    {
        if (probe is null)
        {
            return null;
        }

        var result = new Probe
        {
            InitialDelaySeconds = probe.InitialDelaySeconds,
            PeriodSeconds = probe.PeriodSeconds,
            TimeoutSeconds = probe.TimeoutSeconds,
            FailureThreshold = probe.FailureThreshold,
            SuccessThreshold = probe.SuccessThreshold,
        };
        if (probe.HttpGet is { } http)
        {
            result.HttpGet = new HttpGetCheck { Path = http.Path, Port = http.Port ?? containerPort, Scheme = http.Scheme };
        }
        else if (probe.TcpSocket is { } tcp)
        {
            result.TcpSocket = new TcpSocketCheck { Port = tcp.Port ?? containerPort };
        }
        else if (probe.Exec is { } exec)
        {
            result.Exec = new ExecCheck();
            result.Exec.Command.AddRange(exec.Command);
        }
        else
        {
            // A spec from the parser always has exactly one check; anything else must not reach an agent half-described.
            throw new InvalidOperationException("a probe has no check the agent understands");
        }

        return result;
    }

    /// <summary>One storage entry as the agent mounts it; git and cache mounts are always read-only.</summary>
    private static Mount BuildMount(StorageSpec storage)
    {
        var mount = new Mount { MountPath = storage.MountPath };
        if (storage.Host is { } host)
        {
            mount.Host = new HostPathSource { Path = host.Path };
            mount.ReadOnly = host.ReadOnly;
        }
        else if (storage.EmptyDir is { } emptyDir)
        {
            mount.EmptyDir = new EmptyDirSource { Medium = emptyDir.Medium, SizeLimitMib = emptyDir.SizeLimitMib };
        }
        else if (storage.Oss is { } oss)
        {
            mount.Oss = new OssSource
            {
                Bucket = oss.Bucket.Trim('/'),
                Prefix = oss.Prefix.Trim('/'),
                Endpoint = oss.Endpoint ?? "",
                Secret = oss.Secret ?? "",
            };
            mount.ReadOnly = oss.ReadOnly;
        }
        else if (storage.Nfs is { } nfs)
        {
            mount.Nfs = new NfsSource { Server = nfs.Server, Path = nfs.Path };
            mount.ReadOnly = nfs.ReadOnly;
        }
        else if (storage.Git is { } git)
        {
            mount.Git = new GitSource
            {
                Repo = git.Repo,
                Branch = git.Branch,
                Commit = git.Commit ?? "",
                Username = git.Username ?? "",
                Password = git.Password ?? "",
            };
            mount.ReadOnly = true;
        }
        else if (storage.Cache is { } cache)
        {
            mount.Cache = new CacheSource { SourcePath = cache.SourcePath, CapacityMib = cache.CapacityMib };
            mount.ReadOnly = true;
        }
        else
        {
            // A spec from the parser always has a source; anything else must not reach an agent half-described.
            throw new InvalidOperationException($"storage at {storage.MountPath} has no source the agent understands");
        }

        return mount;
    }
}
