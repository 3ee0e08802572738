using System.Globalization;
using Eas.Node.Agent.Options;
using Eas.Node.Contracts.V1;

namespace Eas.Node.Agent.Fingerprint;

/// <summary>What the node offers: CPU and memory (configured, or detected), and its host name.</summary>
public static class NodeFingerprint
{
    /// <summary>The host name (the default node name).</summary>
    public static string HostName() => Environment.MachineName;

    /// <summary>The capacity to register: configured values win; 0 means detect.</summary>
    public static NodeResources Capacity(AgentOptions options) => new()
    {
        CpuMillis = options.CpuMillis > 0 ? options.CpuMillis : Environment.ProcessorCount * 1000L,
        MemoryMib = options.MemoryMib > 0 ? options.MemoryMib : MemTotalMib(File.Exists("/proc/meminfo") ? File.ReadLines("/proc/meminfo") : []),
    };

    /// <summary>MemTotal from /proc/meminfo lines, in MiB (0 when absent).</summary>
    public static long MemTotalMib(IEnumerable<string> meminfo)
    {
        foreach (var line in meminfo)
        {
            if (!line.StartsWith("MemTotal:", StringComparison.Ordinal))
            {
                continue;
            }

            var parts = line["MemTotal:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length > 0 && long.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var kib))
            {
                return kib / 1024;
            }
        }

        return 0;
    }
}
