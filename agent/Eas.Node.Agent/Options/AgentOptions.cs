namespace Eas.Node.Agent.Options;

/// <summary>The agent's settings: section "Agent" of the config file (<c>--config PATH</c>) and <c>--Agent:Key=value</c> overrides.</summary>
public sealed class AgentOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "Agent";

    /// <summary>The name this node registers under; the host name when empty.</summary>
    public string NodeName { get; set; } = "";

    /// <summary>The coordinator's gRPC address (http:// for h2c on loopback, https:// otherwise).</summary>
    public string Coordinator { get; set; } = "http://127.0.0.1:9090";

    /// <summary>The address reported to the coordinator: where this node's instances are reached.</summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>Where instance records, bundles, logs, venvs and CNI allocations live.</summary>
    public string StateDir { get; set; } = "/var/lib/eas/agent";

    /// <summary>The OCI runtime binary.</summary>
    public string Runc { get; set; } = "/usr/sbin/runc";

    /// <summary>The container monitor binary.</summary>
    public string Conmon { get; set; } = "/usr/bin/conmon";

    /// <summary>Where the CNI plugin binaries (bridge, host-local, portmap) are.</summary>
    public string CniPluginDir { get; set; } = "/usr/lib/cni";

    /// <summary>The Linux bridge the CNI bridge plugin creates and attaches instances to.</summary>
    public string Bridge { get; set; } = "eas0";

    /// <summary>The IPv4 subnet instances get addresses from (host-local IPAM).</summary>
    public string Subnet { get; set; } = "10.233.0.0/24";

    /// <summary>The interpreter that creates the per-requirement-set virtual environments.</summary>
    public string Python { get; set; } = "/usr/bin/python3";

    /// <summary>Extra pip options (index URL, trusted host…), whitespace separated.</summary>
    public string PipArgs { get; set; } = "";

    /// <summary>CPU capacity to report in millicores; 0 detects it.</summary>
    public long CpuMillis { get; set; }

    /// <summary>Memory capacity to report in MiB; 0 detects it.</summary>
    public long MemoryMib { get; set; }

    /// <summary>Labels reported at registration (node selectors match them).</summary>
    public Dictionary<string, string> Labels { get; set; } = [];

    /// <summary>Seconds between heartbeats (the coordinator may ask for another interval).</summary>
    public int HeartbeatSeconds { get; set; } = 2;

    /// <summary>
    /// Lets instances reach addresses beyond this node: the bridge masquerades their traffic (CNI ipMasq)
    /// and they use the host's DNS resolvers. Off by default, as on EAS, where an instance reaches the
    /// internet only through a VPC and NAT its owner sets up. While off, an instance gets a resolv.conf
    /// without name servers, so a name lookup fails at once instead of waiting for a DNS timeout.
    /// </summary>
    public bool OutboundNetwork { get; set; }

    /// <summary>
    /// Where the Prometheus endpoint <c>GET /metrics</c> listens: <c>http://host:port</c> URLs separated by <c>;</c>
    /// (port 0 picks a free port); empty turns it off. Loopback by default: open it to the scraper deliberately.
    /// </summary>
    public string MetricsListen { get; set; } = "http://127.0.0.1:9191";

    /// <summary>
    /// Where instance output (stdout and stderr) goes: <c>journald</c> (conmon's journald driver: CONTAINER_NAME is
    /// the instance, SYSLOG_IDENTIFIER the service), <c>file</c> (output.log in the instance's folder), or <c>auto</c>:
    /// journald when its socket /run/systemd/journal/socket exists, else the file. <c>easctl logs</c> reads either.
    /// </summary>
    public string InstanceLogs { get; set; } = "auto";

    /// <summary>GPU discovery, health, sharing (MPS) and the GPU memory watchdog.</summary>
    public GpuOptions Gpu { get; set; } = new();

    /// <summary>Object-store credentials and endpoint, git, and the node-local cache.</summary>
    public StorageOptions Storage { get; set; } = new();

    /// <summary>The keys of the section, in the order the error messages list them.</summary>
    internal static readonly string[] Keys =
    [
        nameof(NodeName), nameof(Coordinator), nameof(Address), nameof(StateDir), nameof(Runc), nameof(Conmon),
        nameof(CniPluginDir), nameof(Bridge), nameof(Subnet), nameof(Python), nameof(PipArgs), nameof(CpuMillis),
        nameof(MemoryMib), nameof(Labels), nameof(HeartbeatSeconds), nameof(OutboundNetwork), nameof(MetricsListen), nameof(InstanceLogs), nameof(Gpu), nameof(Storage),
    ];

    /// <summary>The entries of a listen setting such as <see cref="MetricsListen"/>.</summary>
    internal static string[] SplitListen(string? listen) =>
        (listen ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary><see cref="PipArgs"/> split into arguments.</summary>
    internal string[] PipArgList => PipArgs.Split(' ', '\t', '\n').Where(a => a.Length > 0).ToArray();
}
