using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Eas.Node.Agent.Options;

/// <summary>Value rules for <see cref="AgentOptions"/>; each failure names the source, the key, the rule and the fix.</summary>
internal sealed partial class AgentOptionsValidator(ConfigSource source) : IValidateOptions<AgentOptions>
{
    public ValidateOptionsResult Validate(string? name, AgentOptions options)
    {
        var errors = new List<string>();
        void Fail(string key, string message) => errors.Add($"{source.Name}: {AgentOptions.SectionName}:{key}: {message}");

        if (string.IsNullOrWhiteSpace(options.NodeName) || !NodeNamePattern().IsMatch(options.NodeName))
        {
            Fail(nameof(options.NodeName), $"'{options.NodeName}' is not a valid node name; use 1-63 letters, digits, '-', '_' or '.'");
        }

        if (!Uri.TryCreate(options.Coordinator, UriKind.Absolute, out var coordinator) || (coordinator.Scheme != "http" && coordinator.Scheme != "https"))
        {
            Fail(nameof(options.Coordinator), $"'{options.Coordinator}' is not an http:// or https:// address; write it like http://127.0.0.1:9090");
        }

        if (!IPAddress.TryParse(options.Address, out _))
        {
            Fail(nameof(options.Address), $"'{options.Address}' is not an IP address; write the address the gateway reaches this node at, like 10.0.0.5");
        }

        foreach (var (key, path) in new[]
        {
            (nameof(options.StateDir), options.StateDir), (nameof(options.Runc), options.Runc), (nameof(options.Conmon), options.Conmon),
            (nameof(options.CniPluginDir), options.CniPluginDir), (nameof(options.Python), options.Python),
        })
        {
            if (!Path.IsPathFullyQualified(path))
            {
                Fail(key, $"'{path}' is not an absolute path; write the full path, like /usr/sbin/runc");
            }
        }

        if (!BridgePattern().IsMatch(options.Bridge))
        {
            Fail(nameof(options.Bridge), $"'{options.Bridge}' is not a valid interface name; use 1-15 letters, digits, '-' or '_'");
        }

        if (!IPNetwork.TryParse(options.Subnet, out var subnet) || subnet.BaseAddress.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
            || subnet.PrefixLength < 8 || subnet.PrefixLength > 29)
        {
            Fail(nameof(options.Subnet), $"'{options.Subnet}' is not an IPv4 network from /8 to /29; write it like 10.233.0.0/24");
        }

        if (options.CpuMillis < 0)
        {
            Fail(nameof(options.CpuMillis), $"{options.CpuMillis} is negative; use 0 to detect or the millicores to offer");
        }

        if (options.MemoryMib < 0)
        {
            Fail(nameof(options.MemoryMib), $"{options.MemoryMib} is negative; use 0 to detect or the MiB to offer");
        }

        if (options.HeartbeatSeconds is < 1 or > 60)
        {
            Fail(nameof(options.HeartbeatSeconds), $"{options.HeartbeatSeconds} is out of range; use 1 to 60 seconds");
        }

        if (!Runtime.OutputLog.Modes.Contains(options.InstanceLogs, StringComparer.OrdinalIgnoreCase))
        {
            Fail(nameof(options.InstanceLogs), $"'{options.InstanceLogs}' is not an instance log target; use auto, journald or file");
        }

        foreach (var url in AgentOptions.SplitListen(options.MetricsListen))
        {
            if (Metrics.MetricsListener.ParseEndpoint(url) is null)
            {
                Fail(nameof(options.MetricsListen), $"'{url}' is not an http://address:port address (an IP address, localhost or *, and a port from 0 to 65535); write it like http://127.0.0.1:9191 (http://0.0.0.0:9191 for a remote scraper), or \"\" to turn metrics off");
            }
        }

        var gpu = options.Gpu;
        foreach (var (key, value, min, max) in new[]
        {
            (nameof(gpu.PollSeconds), gpu.PollSeconds, 1, 60), (nameof(gpu.ReportSeconds), gpu.ReportSeconds, 1, 300),
            (nameof(gpu.XidHoldSeconds), gpu.XidHoldSeconds, 0, 86_400), (nameof(gpu.WatchdogGraceSeconds), gpu.WatchdogGraceSeconds, 0, 3_600),
        })
        {
            if (value < min || value > max)
            {
                Fail($"Gpu:{key}", $"{value} is out of range; use {min} to {max} seconds");
            }
        }

        if (gpu.IgnoredXidSet() is null)
        {
            Fail("Gpu:IgnoredXids", $"'{gpu.IgnoredXids}' is not a comma-separated list of XID numbers; write it like 13,31,43");
        }

        if (gpu.NvmlLibrary.Length == 0)
        {
            Fail("Gpu:NvmlLibrary", "must not be empty; use libnvidia-ml.so.1 (a node without the library simply has no GPUs)");
        }

        if (!Path.IsPathFullyQualified(gpu.MpsControl))
        {
            Fail("Gpu:MpsControl", $"'{gpu.MpsControl}' is not an absolute path; write it like /usr/bin/nvidia-cuda-mps-control");
        }

        var storage = options.Storage;
        foreach (var (key, path) in new[] { (nameof(storage.SecretsFile), storage.SecretsFile), (nameof(storage.S3fs), storage.S3fs), (nameof(storage.Git), storage.Git) })
        {
            if (!Path.IsPathFullyQualified(path))
            {
                Fail($"Storage:{key}", $"'{path}' is not an absolute path; write the full path, like /usr/bin/s3fs");
            }
        }

        if (storage.CacheDir.Length > 0 && !Path.IsPathFullyQualified(storage.CacheDir))
        {
            Fail("Storage:CacheDir", $"'{storage.CacheDir}' is not an absolute path; write it like /var/cache/eas, or leave it empty for <StateDir>/cache");
        }

        if (storage.CacheCapacityMib < 1)
        {
            Fail("Storage:CacheCapacityMib", $"{storage.CacheCapacityMib} is too small; give the cache's size in MiB, like 102400");
        }

        if (storage.CacheFillParallelism is < 1 or > 64)
        {
            Fail("Storage:CacheFillParallelism", $"{storage.CacheFillParallelism} is out of range; use 1 to 64 parallel reads");
        }

        foreach (var key in options.Labels.Keys.Where(k => k.Length == 0 || k.Length > 63))
        {
            Fail($"{nameof(options.Labels)}:{key}", "a label key must be 1-63 characters");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    private static partial Regex NodeNamePattern();

    [GeneratedRegex("^[A-Za-z0-9_-]{1,15}$")]
    private static partial Regex BridgePattern();
}
