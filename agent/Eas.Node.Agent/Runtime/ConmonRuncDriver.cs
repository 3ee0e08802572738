using System.Globalization;
using System.Text.Json;
using Eas.Node.Agent.Health;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Interop;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.State;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Eas.Node.Agent.Runtime;

/// <summary>
/// Runs containers with conmon + runc: conmon (daemonized, so the container outlives the agent) runs
/// <c>runc create</c>, holds the container's stdio, writes its output log and its exit code; the agent
/// then runs <c>runc start</c>. runc's state root is private to the agent (StateDir/runc).
/// </summary>
public sealed class ConmonRuncDriver(
    IOptions<AgentOptions> options,
    AgentPaths paths,
    ICommandRunner commands,
    ExitWatcher exits,
    CgroupLayout cgroups,
    TimeProvider time,
    ILogger<ConmonRuncDriver> logger) : IContainerExec
{
    private static readonly TimeSpan _createTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan _execBackstop = TimeSpan.FromSeconds(5);
    private readonly AgentOptions _options = options.Value;

    /// <summary>Creates and starts the container from the instance's bundle.</summary>
    /// <exception cref="InstanceFailedException">conmon or runc refused; the message carries runc's words.</exception>
    public async Task<ContainerProcess> StartAsync(InstanceContext context, CancellationToken cancellationToken)
    {
        var cid = context.ContainerId;
        Directory.CreateDirectory(paths.Exits);
        Directory.CreateDirectory(paths.Sockets);
        var persist = Path.Combine(context.Dir, "persist");
        Directory.CreateDirectory(persist);
        var runcLog = Path.Combine(context.Dir, "runc.log");
        foreach (var stale in new[] { paths.ExitFile(cid), context.PidFile, context.ConmonPidFile, runcLog, Path.Combine(paths.Sockets, cid) })
        {
            DeletePath(stale);
        }

        List<string> args =
        [
            "--cid", cid,
            // The uuid names the attach-socket link in --socket-dir-path; the container id keeps it findable for cleanup.
            "--cuuid", cid,
            "--name", context.InstanceId,
            "--runtime", _options.Runc,
            "--runtime-arg", "--root", "--runtime-arg", paths.RuncRoot,
            "--runtime-arg", "--log", "--runtime-arg", runcLog,
            "--bundle", context.BundleDir,
            "--pidfile", context.PidFile,
            "--conmon-pidfile", context.ConmonPidFile,
            "--exit-dir", paths.Exits,
            "--persist-dir", persist,
            "--socket-dir-path", paths.Sockets,
        ];
        args.AddRange(OutputLog.ConmonArguments(context, _options.InstanceLogs, File.Exists(OutputLog.JournalSocket)));

        var conmon = await commands.RunAsync(_options.Conmon, args, new CommandOptions { Timeout = _createTimeout }, cancellationToken);
        if (!conmon.Succeeded)
        {
            throw new InstanceFailedException($"conmon failed to start the container: {conmon.Tail()}");
        }

        // conmon's parent returns at once; its daemon child runs `runc create`, which writes the pid file when done.
        var deadline = time.GetUtcNow() + _createTimeout;
        int pid;
        while (true)
        {
            pid = ReadPid(context.PidFile);
            if (pid > 0)
            {
                break;
            }

            var conmonPid = ReadPid(context.ConmonPidFile);
            if ((conmonPid > 0 && !Signals.IsAlive(conmonPid)) || File.Exists(paths.ExitFile(cid)) || time.GetUtcNow() > deadline)
            {
                throw new InstanceFailedException($"runc could not create the container: {RuncError(runcLog)}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10), time, cancellationToken);
        }

        var start = await Runc(["start", cid], cancellationToken);
        if (!start.Succeeded)
        {
            throw new InstanceFailedException($"runc start failed: {start.Tail()} {RuncError(runcLog)}".Trim());
        }

        var process = new ContainerProcess(pid, ReadPid(context.ConmonPidFile));
        RuntimeLog.Started(logger, cid, process.Pid, process.ConmonPid);
        return process;
    }

    /// <summary>The last output lines of the instance, from journald or its output.log, wherever its current run writes.</summary>
    /// <exception cref="IOException">The output could not be read; the message says why.</exception>
    public Task<IReadOnlyList<string>> TailOutputAsync(InstanceContext context, int lines, CancellationToken cancellationToken) =>
        OutputLog.TailAsync(context, lines, commands, cancellationToken);

    /// <summary>The container's processes from its pid files (after an agent restart), or null.</summary>
    public static ContainerProcess? LoadProcess(InstanceContext context)
    {
        var pid = ReadPid(context.PidFile);
        return pid > 0 ? new ContainerProcess(pid, ReadPid(context.ConmonPidFile)) : null;
    }

    /// <summary>runc's status of the container ("created", "running", "stopped"…), or null when runc does not know it.</summary>
    public async Task<string?> StatusAsync(string containerId, CancellationToken cancellationToken)
    {
        var state = await Runc(["state", containerId], cancellationToken);
        if (!state.Succeeded)
        {
            return null;
        }

        using var document = JsonDocument.Parse(state.Stdout);
        return document.RootElement.TryGetProperty("status", out var status) ? status.GetString() : null;
    }

    /// <summary>The ids of every container in this agent's runc root.</summary>
    public async Task<IReadOnlyList<string>> ListAsync(CancellationToken cancellationToken)
    {
        var list = await Runc(["list", "--format", "json"], cancellationToken);
        if (!list.Succeeded || string.IsNullOrWhiteSpace(list.Stdout) || list.Stdout.Trim() == "null")
        {
            return [];
        }

        using var document = JsonDocument.Parse(list.Stdout);
        return document.RootElement.EnumerateArray().Select(c => c.GetProperty("id").GetString() ?? "").Where(id => id.Length > 0).ToList();
    }

    /// <summary>Sends a signal to the container's init process; false when it is not running.</summary>
    public bool Signal(InstanceContext context, int signal)
    {
        if (context.Process is not { } process)
        {
            return false;
        }

        var sent = Signals.Send(process.Pid, signal);
        if (sent)
        {
            RuntimeLog.Signaled(logger, context.ContainerId, signal, process.Pid);
        }

        return sent;
    }

    /// <summary>Waits for the container to exit and returns how; notices a vanished conmon too.</summary>
    public async Task<ExitStatus> WaitForExitAsync(InstanceContext context, CancellationToken cancellationToken)
    {
        var exitFile = exits.WaitAsync(context.ContainerId, cancellationToken);
        while (true)
        {
            // The exit file is the normal path; the slow check covers a conmon killed before it could write one.
            var finished = await Task.WhenAny(exitFile, Task.Delay(TimeSpan.FromSeconds(2), time, cancellationToken));
            if (finished == exitFile)
            {
                await exitFile;
                return (await ReadExitAsync(context.ContainerId, cancellationToken)) with { OomKilled = cgroups.OomKills(context.ContainerId) > 0 };
            }

            cancellationToken.ThrowIfCancellationRequested();
            if (context.Process is { } process && !Signals.IsAlive(process.ConmonPid))
            {
                if (Signals.IsAlive(process.Pid) && !File.Exists(paths.ExitFile(context.ContainerId)))
                {
                    // A container without its conmon writes into pipes nobody reads and its exit would go
                    // unrecorded: end it, so the runner restarts it whole.
                    RuntimeLog.MonitorLost(logger, context.ContainerId, process.Pid);
                    Signals.Send(process.Pid, Signals.Kill);
                    for (var i = 0; i < 50 && Signals.IsAlive(process.Pid); i++)
                    {
                        await Task.Delay(TimeSpan.FromMilliseconds(100), time, cancellationToken);
                    }
                }

                return File.Exists(paths.ExitFile(context.ContainerId)) ? await ReadExitAsync(context.ContainerId, cancellationToken) : new ExitStatus(-1);
            }
        }
    }

    /// <summary>
    /// Runs a command inside the running container with <c>runc exec</c> (its namespaces, cgroup, user and environment).
    /// Past <paramref name="timeout"/>, or when cancelled, the command and every process it started are killed
    /// (runc writes the command's host pid to a pid file for this).
    /// </summary>
    public async Task<ExecResult> ExecAsync(InstanceContext context, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var pidFile = Path.Combine(context.Dir, $"exec-{Guid.NewGuid():N}.pid");
        var timedOut = false;
        try
        {
            CommandResult result;
            using (var deadline = new CancellationTokenSource(timeout, time))
            using (deadline.Token.Register(() =>
            {
                timedOut = true;
                KillExec(pidFile);
            }))
            using (cancellationToken.Register(() => KillExec(pidFile)))
            {
                // The runner's own timeout is a backstop only: the pid file kill ends runc exec with its command.
                result = await commands.RunAsync(
                    _options.Runc,
                    ["--root", paths.RuncRoot, "exec", "--pid-file", pidFile, context.ContainerId, .. command],
                    new CommandOptions { Timeout = timeout + _execBackstop },
                    cancellationToken);
            }

            return new ExecResult(result.ExitCode, timedOut, result.Tail(3));
        }
        finally
        {
            if (timedOut || cancellationToken.IsCancellationRequested)
            {
                // A pid file written after the kill above (runc was slow to start the command) still gets its kill.
                KillExec(pidFile);
            }

            DeletePath(pidFile);
        }
    }

    /// <summary>Deletes the container (forced: kills it first), its conmon if it lingers, its cgroups and runtime files. Idempotent.</summary>
    public async Task DeleteAsync(InstanceContext context, bool force, CancellationToken cancellationToken)
    {
        var cid = context.ContainerId;
        var delete = await Runc(force ? ["delete", "--force", cid] : ["delete", cid], cancellationToken);
        if (!delete.Succeeded && !delete.Stderr.Contains("does not exist", StringComparison.Ordinal))
        {
            RuntimeLog.DeleteFailed(logger, cid, delete.Tail());
            if (!force)
            {
                delete = await Runc(["delete", "--force", cid], cancellationToken);
            }
        }

        // conmon exits by itself once its container is gone, except for a container that never started.
        var conmonPid = ReadPid(context.ConmonPidFile);
        if (conmonPid > 0 && IsConmonOf(conmonPid, cid))
        {
            for (var i = 0; i < 20 && Signals.IsAlive(conmonPid); i++)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(25), time, cancellationToken);
            }

            if (Signals.IsAlive(conmonPid) && Signals.Send(conmonPid, Signals.Kill))
            {
                RuntimeLog.ConmonKilled(logger, cid, conmonPid);
            }
        }

        var stuck = cgroups.RemoveLeftovers(cid);
        if (stuck.Count > 0)
        {
            RuntimeLog.CgroupsStuck(logger, cid, string.Join(", ", stuck));
        }

        foreach (var file in new[] { paths.ExitFile(cid), context.PidFile, context.ConmonPidFile, Path.Combine(paths.Sockets, cid) })
        {
            DeletePath(file);
        }

        context.Process = null;
        RuntimeLog.Deleted(logger, cid);
    }

    /// <summary>Reads a conmon exit file (conmon may create it a moment before it writes the code).</summary>
    private async Task<ExitStatus> ReadExitAsync(string containerId, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            try
            {
                var text = (await File.ReadAllTextAsync(paths.ExitFile(containerId), cancellationToken)).Trim();
                if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var code))
                {
                    return new ExitStatus(code);
                }
            }
            catch (FileNotFoundException)
            {
                return new ExitStatus(-1);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), time, cancellationToken);
        }

        return new ExitStatus(-1);
    }

    private Task<CommandResult> Runc(IEnumerable<string> args, CancellationToken cancellationToken)
        => commands.RunAsync(_options.Runc, new[] { "--root", paths.RuncRoot }.Concat(args), new CommandOptions { Timeout = TimeSpan.FromSeconds(30) }, cancellationToken);

    // A pid file can outlive its process and the pid be reused: only signal a process that is this container's conmon.
    private static bool IsConmonOf(int pid, string containerId)
    {
        try
        {
            var cmdline = File.ReadAllText($"/proc/{pid}/cmdline");
            return cmdline.Contains("conmon", StringComparison.Ordinal) && cmdline.Contains(containerId, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>SIGKILL to an exec'd command and its descendants (collected first: once it dies they are reparented).</summary>
    private static void KillExec(string pidFile)
    {
        var pid = ReadPid(pidFile);
        if (pid <= 0)
        {
            return;
        }

        foreach (var victim in Descendants(pid).Prepend(pid))
        {
            try
            {
                Signals.Send(victim, Signals.Kill);
            }
            catch (InvalidOperationException)
            {
                // Not ours to kill (EPERM); it is no probe's process then.
            }
        }
    }

    /// <summary>Every process below <paramref name="root"/>, from /proc's parent pids.</summary>
    private static List<int> Descendants(int root)
    {
        var children = new Dictionary<int, List<int>>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                // stat is "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so read after the last ')'.
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var parent))
                {
                    (children.TryGetValue(parent, out var list) ? list : children[parent] = []).Add(pid);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException or IndexOutOfRangeException)
            {
                // The process ended while we looked.
            }
        }

        var found = new List<int>();
        var queue = new Queue<int>([root]);
        while (queue.TryDequeue(out var next))
        {
            foreach (var child in children.GetValueOrDefault(next) ?? [])
            {
                found.Add(child);
                queue.Enqueue(child);
            }
        }

        return found;
    }

    private static int ReadPid(string path)
    {
        try
        {
            return int.TryParse(File.ReadAllText(path).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid) ? pid : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static string RuncError(string runcLog)
    {
        try
        {
            // runc logs JSON-ish lines: level=error msg="..."; the last error is the one that matters.
            var lines = File.ReadAllLines(runcLog).Where(l => l.Contains("error", StringComparison.OrdinalIgnoreCase)).TakeLast(3);
            var text = string.Join(" | ", lines);
            return text.Length > 0 ? text : "no details from runc (see " + runcLog + ")";
        }
        catch (IOException)
        {
            return "no details from runc";
        }
    }

    private static void DeletePath(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: a leftover runtime file is overwritten on the next start.
        }
    }
}
