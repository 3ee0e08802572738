using System.Globalization;
using Eas.Node.Agent.Runtime;

namespace Eas.Node.Agent.Metrics;

/// <summary>What an instance's cgroups say it uses now.</summary>
/// <param name="MemoryBytes">Memory charged to the cgroup (v2 <c>memory.current</c>, v1 <c>memory.usage_in_bytes</c>), page cache included.</param>
/// <param name="MemoryLimitBytes">Its memory limit, or null when it has none.</param>
/// <param name="CpuSeconds">CPU time used by its processes since the cgroup was made (v2 <c>cpu.stat</c> usage_usec, v1 <c>cpuacct.usage</c>).</param>
public readonly record struct CgroupUsage(long MemoryBytes, long? MemoryLimitBytes, double CpuSeconds);

/// <summary>
/// Reads an instance's usage from the cgroups runc made for it ("eas/&lt;container id&gt;", see <see cref="CgroupLayout"/>):
/// one directory on a cgroup v2 host, the memory and cpuacct hierarchies on a v1 or hybrid one. Read at scrape time only.
/// </summary>
public sealed class CgroupUsageReader
{
    // v1 reports "no limit" as the largest page-aligned long; anything this large is no limit.
    private const long NoLimitFloor = 1L << 62;

    private readonly string _root;
    private readonly bool _unified;

    /// <summary>Reads below the host's cgroup mount, in its layout.</summary>
    public CgroupUsageReader(CgroupLayout layout)
        : this(layout?.Root ?? throw new ArgumentNullException(nameof(layout)), layout.Unified)
    {
    }

    /// <summary>Reads below <paramref name="root"/> as a v2 (<paramref name="unified"/>) or v1 tree (tests use fake trees).</summary>
    internal CgroupUsageReader(string root, bool unified)
    {
        _root = root;
        _unified = unified;
    }

    /// <summary>The container's usage, or null when its cgroup is not there (not started yet, or removed).</summary>
    public CgroupUsage? Read(string containerId)
    {
        try
        {
            return _unified ? ReadV2(Path.Combine(_root, "eas", containerId)) : ReadV1(containerId);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            // Removed while being read, or no such controller: nothing to report.
            return null;
        }
    }

    private static CgroupUsage? ReadV2(string dir)
    {
        if (!Directory.Exists(dir))
        {
            return null;
        }

        var memory = ReadLong(Path.Combine(dir, "memory.current")) ?? 0;
        var max = ReadText(Path.Combine(dir, "memory.max"));
        long? limit = max is null || max == "max" ? null : long.Parse(max, CultureInfo.InvariantCulture);
        var usageMicros = 0L;
        var stat = Path.Combine(dir, "cpu.stat");
        if (File.Exists(stat))
        {
            foreach (var line in File.ReadLines(stat))
            {
                if (line.StartsWith("usage_usec ", StringComparison.Ordinal))
                {
                    usageMicros = long.Parse(line.AsSpan("usage_usec ".Length), CultureInfo.InvariantCulture);
                    break;
                }
            }
        }

        return new CgroupUsage(memory, limit, usageMicros / 1e6);
    }

    private CgroupUsage? ReadV1(string containerId)
    {
        var memoryDir = Path.Combine(_root, "memory", "eas", containerId);

        // "cpuacct" is the hierarchy itself or a link to "cpu,cpuacct"; the path resolves either way.
        var cpuDir = Path.Combine(_root, "cpuacct", "eas", containerId);
        var hasMemory = Directory.Exists(memoryDir);
        var hasCpu = Directory.Exists(cpuDir);
        if (!hasMemory && !hasCpu)
        {
            return null;
        }

        var memory = hasMemory ? ReadLong(Path.Combine(memoryDir, "memory.usage_in_bytes")) ?? 0 : 0;
        var limit = hasMemory ? ReadLong(Path.Combine(memoryDir, "memory.limit_in_bytes")) : null;
        if (limit >= NoLimitFloor)
        {
            limit = null;
        }

        var nanos = hasCpu ? ReadLong(Path.Combine(cpuDir, "cpuacct.usage")) ?? 0 : 0;
        return new CgroupUsage(memory, limit, nanos / 1e9);
    }

    private static long? ReadLong(string file) => ReadText(file) is { } text ? long.Parse(text, CultureInfo.InvariantCulture) : null;

    private static string? ReadText(string file) => File.Exists(file) ? File.ReadAllText(file).Trim() : null;
}
