using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Eas.Node.Agent.Interop;
using Eas.Node.Agent.Runtime;
using Microsoft.Extensions.Logging;

namespace Eas.Node.Agent.Storage;

/// <summary>
/// One host mount per source, shared by every instance that uses it: the common part of the oss (s3fs) and
/// nfs drivers. A source's mount lives at <c>&lt;StateDir&gt;/mounts/&lt;kind&gt;-&lt;hash&gt;</c>; its users are
/// counted per instance in <c>&lt;StateDir&gt;/mounts/refs/&lt;kind&gt;/</c>, so they survive an agent restart.
/// Acquiring reuses a live mount (also one a previous agent process made), lazily detaches a dead one
/// ("Transport endpoint is not connected", a stale NFS handle) and mounts again; the last release unmounts
/// it, lets the kind stop what it ran (s3fs) and removes the directory.
/// </summary>
public sealed class SharedHostMounts
{
    /// <summary>How long a stat of a mount may take before the mount is taken as alive but slow (and left alone).</summary>
    private static readonly TimeSpan _probeTimeout = TimeSpan.FromSeconds(5);

    private readonly string _kind;
    private readonly ICommandRunner _runner;
    private readonly ILogger _logger;
    private readonly Func<string, string, CancellationToken, Task> _afterUnmount;
    private readonly StorageReferences _references;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new(StringComparer.Ordinal);

    /// <summary>Shares mounts of one <paramref name="kind"/> ("oss", "nfs") under <see cref="MountsDir"/> of <paramref name="stateDir"/>.</summary>
    /// <param name="stateDir">The agent's state directory.</param>
    /// <param name="kind">Prefix of keys and directories, and the name of the reference folder.</param>
    /// <param name="runner">Runs umount.</param>
    /// <param name="logger">Where reuse, remounts and unmount trouble are logged.</param>
    /// <param name="afterUnmount">
    /// Called with (key, path) after the mount at path is gone (or was found dead): stop what the kind ran for it,
    /// remove its side files. Must be idempotent.
    /// </param>
    public SharedHostMounts(string stateDir, string kind, ICommandRunner runner, ILogger logger, Func<string, string, CancellationToken, Task>? afterUnmount = null)
    {
        Dir = MountsDir(stateDir);
        _kind = kind;
        _runner = runner;
        _logger = logger;
        _afterUnmount = afterUnmount ?? ((_, _, _) => Task.CompletedTask);
        _references = new StorageReferences(Path.Combine(Dir, "refs", kind));
    }

    /// <summary>The folder every shared mount, password file and s3fs log of the agent lives in.</summary>
    public string Dir { get; }

    /// <summary><c>&lt;stateDir&gt;/mounts</c>.</summary>
    public static string MountsDir(string stateDir) => Path.Combine(stateDir, "mounts");

    /// <summary>"&lt;kind&gt;-&lt;16 hex digits&gt;": the key of the source described by <paramref name="parts"/> (never secrets).</summary>
    public string KeyOf(params string[] parts)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', parts)));
        return $"{_kind}-{Convert.ToHexStringLower(hash)[..16]}";
    }

    /// <summary>Where the mount of <paramref name="key"/> lives on the host.</summary>
    public string PathOf(string key) => Path.Combine(Dir, key);

    /// <summary>The instances that use <paramref name="key"/>.</summary>
    public IReadOnlySet<string> Users(string key) => _references.Users(key);

    /// <summary>
    /// Makes sure <paramref name="key"/> is mounted (calling <paramref name="mount"/> with its empty directory when
    /// it is not, or when its mount is dead) and counts <paramref name="instanceId"/> as a user; returns the host path.
    /// </summary>
    /// <exception cref="Instances.InstanceFailedException">From <paramref name="mount"/>; what it left is undone when nobody else uses the key.</exception>
    public async Task<string> AcquireAsync(string key, string instanceId, Func<string, CancellationToken, Task> mount, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        var gate = _gates.GetOrAdd(key, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            var state = await ProbeAsync(path);
            if (state == HostMountState.Dead)
            {
                SharedHostMountsLog.Remounting(_logger, path);
                Mounts.Detach(path);
                await _afterUnmount(key, path, cancellationToken);
                state = HostMountState.Absent;
            }

            if (state == HostMountState.Absent)
            {
                CreatePrivateDir(Dir);
                Directory.CreateDirectory(path);
                try
                {
                    await mount(path, cancellationToken);
                }
                catch
                {
                    if (_references.Users(key).Count == 0)
                    {
                        await TryUndoAsync(key, path);
                    }

                    throw;
                }
            }
            else if (_references.Users(key).Count == 0)
            {
                SharedHostMountsLog.Reusing(_logger, path);
            }

            _references.Add(key, instanceId);
            return path;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Stops counting <paramref name="instanceId"/> on every key of this kind; unmounts the keys nobody uses any more.
    /// Never throws for an unmount that fails (it is logged, and <c>eas-agent cleanup</c> removes what is left).
    /// </summary>
    public async Task ReleaseAsync(string instanceId, CancellationToken cancellationToken)
    {
        foreach (var (key, remaining) in _references.RemoveEverywhere(instanceId))
        {
            if (remaining > 0)
            {
                continue;
            }

            var gate = _gates.GetOrAdd(key, _ => new SemaphoreSlim(1, 1));
            await gate.WaitAsync(cancellationToken);
            try
            {
                // Someone may have acquired it while this waited.
                if (_references.Users(key).Count == 0)
                {
                    await UndoAsync(key, PathOf(key), cancellationToken);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                SharedHostMountsLog.UnmountFailed(_logger, PathOf(key), ex.Message);
            }
            finally
            {
                gate.Release();
            }
        }
    }

    /// <summary>
    /// <c>eas-agent cleanup</c>: lazily unmounts everything under <c>&lt;stateDir&gt;/mounts</c>, stops the s3fs
    /// daemons that served them and removes the folder (only once nothing is mounted in it).
    /// </summary>
    public static async Task CleanupAsync(string stateDir, ILogger logger, CancellationToken cancellationToken)
    {
        var dir = MountsDir(stateDir);
        if (!Directory.Exists(dir))
        {
            return;
        }

        foreach (var mountPoint in HostMountTable.MountPointsUnder(dir).OrderByDescending(p => p.Length))
        {
            try
            {
                Mounts.Detach(mountPoint);
                SharedHostMountsLog.Unmounted(logger, mountPoint);
            }
            catch (InvalidOperationException ex)
            {
                SharedHostMountsLog.UnmountFailed(logger, mountPoint, ex.Message);
            }
        }

        await OssStorageDriver.StopDaemonsAsync(dir, cancellationToken);
        if (HostMountTable.MountPointsUnder(dir).Count == 0)
        {
            Directory.Delete(dir, recursive: true);
        }
        else
        {
            SharedHostMountsLog.UnmountFailed(logger, dir, "something is still mounted below it; left in place");
        }
    }

    /// <summary>Undoes a failed mount; its own trouble is logged, never thrown over the mount's error.</summary>
    private async Task TryUndoAsync(string key, string path)
    {
        try
        {
            await UndoAsync(key, path, CancellationToken.None);
        }
        catch (Exception ex)
        {
            SharedHostMountsLog.UnmountFailed(_logger, path, ex.Message);
        }
    }

    /// <summary>Unmounts (lazily when busy), lets the kind stop its helpers, removes the directory and the key.</summary>
    private async Task UndoAsync(string key, string path, CancellationToken cancellationToken)
    {
        if (HostMountTable.IsMountPoint(path))
        {
            var result = await _runner.RunAsync("umount", [path], new CommandOptions { Timeout = TimeSpan.FromSeconds(30) }, cancellationToken);
            if (!result.Succeeded && HostMountTable.IsMountPoint(path))
            {
                // Busy (an instance's process still has a file open) or the server is gone: detach it now; the kernel
                // finishes when the last user lets go.
                SharedHostMountsLog.DetachingLazily(_logger, path, result.Tail(3));
                Mounts.Detach(path);
            }
        }

        await _afterUnmount(key, path, cancellationToken);
        if (HostMountTable.IsMountPoint(path))
        {
            throw new InvalidOperationException($"{path} is still mounted after umount; unmount it by hand (umount -l {path})");
        }

        if (Directory.Exists(path))
        {
            // Never recursive: a mount point that is somehow still attached must not lose the data behind it.
            Directory.Delete(path);
        }

        _references.Forget(key);
        SharedHostMountsLog.Unmounted(_logger, path);
    }

    /// <summary>Whether <paramref name="path"/> has a usable mount, a dead one, or none.</summary>
    internal static async Task<HostMountState> ProbeAsync(string path)
    {
        if (!HostMountTable.IsMountPoint(path))
        {
            return HostMountState.Absent;
        }

        var stat = Task.Run(() => FileStatus.Stat(path, out _, out _));
        var finished = await Task.WhenAny(stat, Task.Delay(_probeTimeout));
        if (finished != stat)
        {
            // Hung (an NFS server that does not answer): alive as far as we can tell; mounting over it would stack mounts.
            return HostMountState.Live;
        }

        var errno = await stat;
        return errno == 0 ? HostMountState.Live : HostMountState.Dead;
    }

    private static void CreatePrivateDir(string dir)
    {
        if (!Directory.Exists(dir))
        {
            // Password files live here: only root may look inside.
            Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }
}

/// <summary>What <see cref="SharedHostMounts.ProbeAsync"/> found at a mount path.</summary>
internal enum HostMountState
{
    /// <summary>Nothing is mounted there.</summary>
    Absent,

    /// <summary>A mount that answers (or is slow, which is left alone).</summary>
    Live,

    /// <summary>A mount whose stat fails: a FUSE daemon that died, a stale NFS handle.</summary>
    Dead,
}

/// <summary>The mount table of the agent's mount namespace (/proc/self/mountinfo).</summary>
internal static class HostMountTable
{
    /// <summary>(mount point, file system type) for every mount, in mount order.</summary>
    public static IReadOnlyList<(string MountPoint, string Type)> Read()
    {
        var mounts = new List<(string, string)>();
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            // id parent major:minor root mount-point options [optional fields] - type source super-options
            var fields = line.Split(' ');
            var separator = Array.IndexOf(fields, "-", 6);
            if (fields.Length > 4 && separator > 0 && separator + 1 < fields.Length)
            {
                mounts.Add((Unescape(fields[4]), fields[separator + 1]));
            }
        }

        return mounts;
    }

    /// <summary>True when something is mounted at <paramref name="path"/>.</summary>
    public static bool IsMountPoint(string path) => Read().Any(m => m.MountPoint == path);

    /// <summary>The type of the topmost mount at <paramref name="path"/>; null when nothing is mounted there.</summary>
    public static string? TypeAt(string path) => Read().LastOrDefault(m => m.MountPoint == path).Type;

    /// <summary>Mount points strictly below <paramref name="dir"/> (and <paramref name="dir"/> itself when <paramref name="includeDir"/>).</summary>
    public static IReadOnlyList<string> MountPointsUnder(string dir, bool includeDir = false)
    {
        var prefix = dir.TrimEnd('/') + "/";
        return [.. Read()
            .Select(m => m.MountPoint)
            .Where(p => p.StartsWith(prefix, StringComparison.Ordinal) || (includeDir && p == dir))
            .Distinct(StringComparer.Ordinal)];
    }

    /// <summary>mountinfo writes space, tab, newline and backslash as \040, \011, \012 and \134.</summary>
    internal static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var text = new StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length && field[(i + 1)..(i + 4)].All(c => c is >= '0' and <= '7'))
            {
                text.Append((char)Convert.ToInt32(field[(i + 1)..(i + 4)], 8));
                i += 3;
            }
            else
            {
                text.Append(field[i]);
            }
        }

        return text.ToString();
    }
}

/// <summary>Processes found by their command line in /proc (the s3fs daemons, which are not the agent's children).</summary>
internal static class HostProcesses
{
    /// <summary>Pids of live (not zombie) processes whose argv matches.</summary>
    public static IReadOnlyList<int> Find(Func<IReadOnlyList<string>, bool> matches)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                // A zombie's cmdline is empty; so is a kernel thread's.
                var argv = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0', StringSplitOptions.RemoveEmptyEntries);
                if (argv.Length > 0 && matches(argv))
                {
                    found.Add(pid);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Exited while we looked.
            }
        }

        return found;
    }

    /// <summary>
    /// Waits up to <paramref name="grace"/> for the matching processes to exit on their own, then sends SIGTERM,
    /// then SIGKILL; returns when none is left (or gives up after the kill).
    /// </summary>
    public static async Task StopAsync(Func<IReadOnlyList<string>, bool> matches, TimeSpan grace, CancellationToken cancellationToken)
    {
        foreach (var (signal, wait) in new (int?, TimeSpan)[] { (null, grace), (Signals.Term, TimeSpan.FromSeconds(3)), (Signals.Kill, TimeSpan.FromSeconds(2)) })
        {
            var pids = Find(matches);
            if (signal is { } s)
            {
                foreach (var pid in pids)
                {
                    Signals.Send(pid, s);
                }
            }

            var deadline = DateTime.UtcNow + wait;
            while (pids.Count > 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50, cancellationToken);
                pids = Find(matches);
            }

            if (pids.Count == 0)
            {
                return;
            }
        }
    }
}

/// <summary>Shared host mount log messages (event ids 850-869).</summary>
internal static partial class SharedHostMountsLog
{
    [LoggerMessage(850, LogLevel.Information, "Reusing the live mount {Path} (made before the agent restarted)")]
    public static partial void Reusing(ILogger logger, string path);

    [LoggerMessage(851, LogLevel.Warning, "The mount {Path} is dead (its server or daemon is gone); detaching it and mounting again")]
    public static partial void Remounting(ILogger logger, string path);

    [LoggerMessage(852, LogLevel.Information, "Unmounted {Path}")]
    public static partial void Unmounted(ILogger logger, string path);

    [LoggerMessage(853, LogLevel.Warning, "umount {Path} failed ({Problem}); detaching it lazily")]
    public static partial void DetachingLazily(ILogger logger, string path, string problem);

    [LoggerMessage(854, LogLevel.Warning, "Cannot unmount {Path}: {Problem}")]
    public static partial void UnmountFailed(ILogger logger, string path, string problem);

    [LoggerMessage(855, LogLevel.Information, "Mounted {Source} at {Path}")]
    public static partial void Mounted(ILogger logger, string source, string path);
}
