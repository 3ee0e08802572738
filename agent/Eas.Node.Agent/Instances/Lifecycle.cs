namespace Eas.Node.Agent.Instances;

// The lifecycle of one instance as the InstanceRunner drives it, and where the hooks run
// (after Nomad's client/allocrunner/interfaces/task_lifecycle.go):
//
//   assignment ─► record(Preparing) ─► Prestart hooks ───────────────────────────────┐
//                  (venv, storage mounts, netns + CNI ADD, OCI bundle)               │
//                                                                                    ▼
//        ┌──────────────────────────── record(Running) ─► conmon create + runc start ─► Poststart hooks
//        │                                          (probes: the startup check first, then readiness ⇄
//        │                                           RUNNING/READY and liveness; they stop with the run)
//        │                                                                                    │
//        │   restart_nonce grew, eviction, or ─► Prekill hooks ─► SIGKILL after grace ─┐      ▼
//        │   liveness/startup check failed                                             ├─► Exited hooks ◄─ process exits
//        └──── backoff (1 s doubling, cap 5 min; none on request or eviction) ◄────────┘   (runc delete)
//
//   runtime.enable_crash_block: the process exits ─► FAILED, no Exited hooks (container, netns, mounts kept)
//        ─► restart_nonce grew ─► Exited hooks ─► started again at once (the restart counts)
//
//   assignment removed ─► record(Stopping) ─► TERMINATING ─► Prekill hooks (SIGTERM when enable_sigterm)
//        ─► wait termination grace (ends early on exit) ─► SIGKILL ─► Stop hooks in reverse prestart order
//        (runc delete + cgroups, CNI DEL + netns, unmount) ─► instance directory removed ─► STOPPED
//
// Every hook is idempotent: a crash between any two steps is repaired by running the same step again
// (re-attach after an agent restart) or by running the stop hooks (the cleanup subcommand).

/// <summary>Prepares what the container needs before it can start; runs once per instance, in registration order.</summary>
public interface IPrestartHook
{
    /// <summary>A short name for logs.</summary>
    string Name { get; }

    /// <summary>Does the step; throws <see cref="InstanceFailedException"/> with a reason a user can act on.</summary>
    Task PrestartAsync(InstanceContext context, CancellationToken cancellationToken);
}

/// <summary>Runs after each successful container start; its token ends when that run ends.</summary>
public interface IPoststartHook
{
    /// <summary>A short name for logs.</summary>
    string Name { get; }

    /// <summary>Starts the step (it may keep work running until <paramref name="runToken"/> is cancelled).</summary>
    Task PoststartAsync(InstanceContext context, CancellationToken runToken);
}

/// <summary>Runs when a running container is about to be killed (stop or requested restart), before the grace period.</summary>
public interface IPrekillHook
{
    /// <summary>A short name for logs.</summary>
    string Name { get; }

    /// <summary>Does the step.</summary>
    Task PrekillAsync(InstanceContext context, CancellationToken cancellationToken);
}

/// <summary>Runs after the container process exited, before it is started again.</summary>
public interface IExitedHook
{
    /// <summary>A short name for logs.</summary>
    string Name { get; }

    /// <summary>Does the step.</summary>
    Task ExitedAsync(InstanceContext context, ExitStatus exit, CancellationToken cancellationToken);
}

/// <summary>Undoes what a prestart hook made; runs in reverse order when the instance stops, even after a partial prepare.</summary>
public interface IStopHook
{
    /// <summary>A short name for logs.</summary>
    string Name { get; }

    /// <summary>Undoes the step; must succeed when there is nothing to undo.</summary>
    Task StopAsync(InstanceContext context, CancellationToken cancellationToken);
}

/// <summary>Why and how a container process ended.</summary>
/// <param name="Code">The exit code conmon recorded (128+N for signal N), or -1 when unknown.</param>
/// <param name="OomKilled">The kernel's OOM killer killed a process of the instance (its cgroup counted an oom_kill).</param>
public readonly record struct ExitStatus(int Code, bool OomKilled = false)
{
    /// <summary>"exited with code 1", "killed by signal 9", "OOMKilled: …", or why the code is unknown.</summary>
    public string Describe()
    {
        var how = Code switch
        {
            < 0 => "ended without an exit code: its container monitor (conmon) went away",
            > 128 and < 160 => $"killed by signal {Code - 128}",
            _ => $"exited with code {Code}",
        };
        return OomKilled ? $"OOMKilled: over its memory limit, the kernel killed it ({how}); raise metadata.memory or use less" : how;
    }
}

/// <summary>An instance cannot be prepared or started; <see cref="Exception.Message"/> is the reason reported to the user.</summary>
public sealed class InstanceFailedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public InstanceFailedException(string reason)
        : base(reason)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public InstanceFailedException(string reason, Exception inner)
        : base(reason, inner)
    {
    }

    /// <summary>Creates the exception.</summary>
    public InstanceFailedException()
    {
    }
}

/// <summary>The container's processes while it runs.</summary>
/// <param name="Pid">The container's init process (host pid).</param>
/// <param name="ConmonPid">Its conmon.</param>
public readonly record struct ContainerProcess(int Pid, int ConmonPid);
