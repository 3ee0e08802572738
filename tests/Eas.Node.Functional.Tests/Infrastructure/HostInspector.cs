using System.Diagnostics;
using System.Globalization;

namespace Eas.Node.Functional.Tests.Infrastructure;

/// <summary>Looks at the host the way an operator would: processes, cgroups, mounts, namespaces, links.</summary>
internal static class HostInspector
{
    /// <summary>Host pids of the processes that run inside an instance (they carry EAS_INSTANCE_ID in their environment).</summary>
    public static IReadOnlyList<int> InstancePids(string instanceId)
    {
        var marker = $"EAS_INSTANCE_ID={instanceId}";
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var environ = File.ReadAllText(Path.Combine(dir, "environ"));
                if (environ.Split('\0').Contains(marker, StringComparer.Ordinal))
                {
                    pids.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended while we looked.
            }
        }

        return pids;
    }

    /// <summary>The memory limit of a process's cgroup in bytes, read from the host (cgroup v1 or v2).</summary>
    public static long MemoryLimitBytes(int pid)
    {
        foreach (var line in File.ReadAllLines($"/proc/{pid}/cgroup"))
        {
            var parts = line.Split(':', 3);
            if (parts[1].Split(',').Contains("memory"))
            {
                return long.Parse(File.ReadAllText($"/sys/fs/cgroup/memory{parts[2]}/memory.limit_in_bytes").Trim(), CultureInfo.InvariantCulture);
            }

            if (parts[0] == "0" && parts[1].Length == 0 && File.Exists($"/sys/fs/cgroup{parts[2]}/memory.max"))
            {
                return long.Parse(File.ReadAllText($"/sys/fs/cgroup{parts[2]}/memory.max").Trim(), CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"no memory cgroup for pid {pid}");
    }

    /// <summary>The size of /dev/shm seen inside the process's mount namespace, in KiB.</summary>
    public static long ShmSizeKib(int pid)
    {
        var output = Run("nsenter", "-t", pid.ToString(CultureInfo.InvariantCulture), "-m", "df", "-k", "--output=size", "/dev/shm");
        return long.Parse(output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1].Trim(), CultureInfo.InvariantCulture);
    }

    public static IReadOnlyList<string> NetworkNamespaces() =>
        Directory.Exists("/var/run/netns") ? [.. Directory.EnumerateFileSystemEntries("/var/run/netns").Select(Path.GetFileName).OfType<string>()] : [];

    public static bool LinkExists(string name) => Directory.Exists($"/sys/class/net/{name}");

    public static IReadOnlyList<string> MountsUnder(string path) =>
        [.. File.ReadAllLines("/proc/self/mounts").Select(l => l.Split(' ')[1]).Where(m => m.StartsWith(path, StringComparison.Ordinal))];

    public static IReadOnlyList<string> ProcessesMentioning(string text)
    {
        var found = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                continue;
            }

            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (cmdline.Contains(text, StringComparison.Ordinal))
                {
                    found.Add($"{Path.GetFileName(dir)}: {cmdline}");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended while we looked.
            }
        }

        return found;
    }

    public static IReadOnlyList<string> CgroupsNamed(string fragment)
    {
        var roots = new[] { "/sys/fs/cgroup/memory/eas", "/sys/fs/cgroup/cpu/eas", "/sys/fs/cgroup/pids/eas", "/sys/fs/cgroup/eas", "/sys/fs/cgroup/unified/eas" };
        return [.. roots.Where(Directory.Exists).SelectMany(r => Directory.EnumerateDirectories(r)).Where(d => d.Contains(fragment, StringComparison.Ordinal))];
    }

    public static string Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEnd();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {p.ExitCode}: {stderr}");
        }

        return stdout;
    }
}
