namespace Eas.Node.Agent.Options;

/// <summary>The "Agent:Gpu" section: how the agent finds, watches and shares this node's GPUs.</summary>
public sealed class GpuOptions
{
    /// <summary>The NVML library to load; without it (no NVIDIA driver) the node simply has no GPUs.</summary>
    public string NvmlLibrary { get; set; } = "libnvidia-ml.so.1";

    /// <summary>Seconds between NVML polls (usage, processes, lost GPUs, the memory watchdog).</summary>
    public int PollSeconds { get; set; } = 1;

    /// <summary>Seconds between usage reports to the coordinator (health changes are reported at once).</summary>
    public int ReportSeconds { get; set; } = 5;

    /// <summary>How long a GPU stays unhealthy after an XID critical error, provided it answers NVML again.</summary>
    public int XidHoldSeconds { get; set; } = 60;

    /// <summary>XIDs caused by applications, not by the GPU (NVIDIA's device plugin ignores the same ones); comma separated.</summary>
    public string IgnoredXids { get; set; } = "13,31,43,45,68,109";

    /// <summary>How long an instance on a shared GPU may use more GPU memory than its slice before it is evicted.</summary>
    public int WatchdogGraceSeconds { get; set; } = 10;

    /// <summary>The MPS control daemon, started once per shared GPU (<c>-f</c>, in the foreground).</summary>
    public string MpsControl { get; set; } = "/usr/bin/nvidia-cuda-mps-control";

    /// <summary>For trying GPU features without GPUs: the fake NVML's machine profile (e.g. 2xH100-80GB); sets EAS_FAKE_NVML_PROFILE.</summary>
    public string FakeProfile { get; set; } = "";

    /// <summary>The fake NVML's state directory (sets EAS_FAKE_NVML_STATE); "" for &lt;StateDir&gt;/fake-nvml.</summary>
    public string FakeState { get; set; } = "";

    /// <summary>The keys of the section, in the order the error messages list them.</summary>
    internal static readonly string[] Keys =
    [
        nameof(NvmlLibrary), nameof(PollSeconds), nameof(ReportSeconds), nameof(XidHoldSeconds), nameof(IgnoredXids),
        nameof(WatchdogGraceSeconds), nameof(MpsControl), nameof(FakeProfile), nameof(FakeState),
    ];

    /// <summary>The integer keys (checked to be whole numbers before binding).</summary>
    internal static readonly string[] IntegerKeys = [nameof(PollSeconds), nameof(ReportSeconds), nameof(XidHoldSeconds), nameof(WatchdogGraceSeconds)];

    /// <summary><see cref="IgnoredXids"/> parsed; null when it is malformed.</summary>
    internal HashSet<ulong>? IgnoredXidSet()
    {
        var set = new HashSet<ulong>();
        foreach (var part in IgnoredXids.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!ulong.TryParse(part, System.Globalization.CultureInfo.InvariantCulture, out var xid))
            {
                return null;
            }

            set.Add(xid);
        }

        return set;
    }
}
