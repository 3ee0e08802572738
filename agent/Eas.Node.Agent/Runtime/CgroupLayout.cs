using Eas.Node.Agent.Interop;

namespace Eas.Node.Agent.Runtime;

/// <summary>
/// Which cgroup hierarchy the host has (v2 unified, or v1 / hybrid), detected once with statfs, and where
/// runc's cgroupfs driver puts an instance's cgroups ("/eas/&lt;container id&gt;" under each hierarchy).
/// </summary>
public sealed class CgroupLayout
{
    /// <summary>The cgroup mount point.</summary>
    public const string MountPoint = "/sys/fs/cgroup";

    /// <summary>Detects the host's layout.</summary>
    public CgroupLayout()
        : this(MountPoint)
    {
    }

    /// <summary>Detects the layout below <paramref name="mountPoint"/>.</summary>
    public CgroupLayout(string mountPoint)
    {
        Root = mountPoint;
        try
        {
            Unified = FileSystems.GetType(mountPoint) == FileSystems.Cgroup2Magic;
        }
        catch (InvalidOperationException)
        {
            Unified = false;
        }
    }

    /// <summary>The mount point.</summary>
    public string Root { get; }

    /// <summary>True on a pure cgroup v2 host.</summary>
    public bool Unified { get; }

    /// <summary>The file that holds an instance's memory limit.</summary>
    public string MemoryLimitFile(string containerId) => Unified
        ? Path.Combine(Root, "eas", containerId, "memory.max")
        : Path.Combine(Root, "memory", "eas", containerId, "memory.limit_in_bytes");

    /// <summary>
    /// How many processes of the container the OOM killer has killed, from its memory cgroup (v2 <c>memory.events</c>,
    /// v1 <c>memory.oom_control</c>, both "oom_kill N"); 0 when the cgroup or the counter is not there. Read it
    /// before <c>runc delete</c> removes the cgroup.
    /// </summary>
    public long OomKills(string containerId)
    {
        var file = Unified
            ? Path.Combine(Root, "eas", containerId, "memory.events")
            : Path.Combine(Root, "memory", "eas", containerId, "memory.oom_control");
        try
        {
            foreach (var line in File.ReadLines(file))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts is ["oom_kill", var count] && long.TryParse(count, System.Globalization.CultureInfo.InvariantCulture, out var kills))
                {
                    return kills;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Gone already, or no memory controller: nothing to say.
        }

        return 0;
    }

    /// <summary>Every cgroup directory of the container that exists now (one per v1 hierarchy, or one on v2).</summary>
    public IReadOnlyList<string> ExistingDirectories(string containerId)
    {
        var relative = Path.Combine("eas", containerId);
        if (Unified)
        {
            var dir = Path.Combine(Root, relative);
            return Directory.Exists(dir) ? [dir] : [];
        }

        var found = new List<string>();
        if (!Directory.Exists(Root))
        {
            return found;
        }

        foreach (var hierarchy in Directory.EnumerateDirectories(Root))
        {
            // cpu,cpuacct style names are links to the same hierarchy; visiting the real one is enough.
            if (new DirectoryInfo(hierarchy).LinkTarget is not null)
            {
                continue;
            }

            var dir = Path.Combine(hierarchy, relative);
            if (Directory.Exists(dir))
            {
                found.Add(dir);
            }
        }

        return found;
    }

    /// <summary>Removes the container's cgroup directories runc left (rmdir; a cgroup with processes stays and is returned).</summary>
    public IReadOnlyList<string> RemoveLeftovers(string containerId)
    {
        var stuck = new List<string>();
        foreach (var dir in ExistingDirectories(containerId))
        {
            try
            {
                Directory.Delete(dir, recursive: false);
            }
            catch (IOException)
            {
                stuck.Add(dir);
            }
        }

        return stuck;
    }

    /// <summary>
    /// Removes the shared "eas" parent cgroups once no instance is left below them; another agent's
    /// instances (or a cgroup still in use) keep them, which rmdir reports and this ignores.
    /// </summary>
    public void RemoveEmptyParents()
    {
        var parents = Unified
            ? [Path.Combine(Root, "eas")]
            : Directory.Exists(Root)
                ? Directory.EnumerateDirectories(Root).Where(h => new DirectoryInfo(h).LinkTarget is null).Select(h => Path.Combine(h, "eas"))
                : [];
        foreach (var parent in parents.Where(Directory.Exists))
        {
            try
            {
                Directory.Delete(parent, recursive: false);
            }
            catch (IOException)
            {
                // Not empty: instances of another agent on this host live there.
            }
        }
    }
}
