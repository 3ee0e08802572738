using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.State;
using Eas.Node.Contracts.V1;

namespace Eas.Node.Agent.Runtime;

/// <summary>
/// Writes an instance's OCI bundle: config.json and a host-environment root file system (an empty
/// directory with read-only binds of the host's /usr /lib /lib64 /bin /sbin /etc, so a plain
/// <c>python3 app.py</c> runs without an image).
/// </summary>
public static class OciBundleWriter
{
    /// <summary>The host directories the host-environment root is made of.</summary>
    internal static readonly string[] HostDirectories = ["/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc"];

    /// <summary>The default PATH inside the container.</summary>
    internal const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>The CPU period used for quotas (100 ms, the kernel default).</summary>
    internal const long CpuPeriodMicros = 100_000;

    /// <summary>The process limit per instance: generous for worker pools, small enough to stop a fork bomb.</summary>
    internal const long PidsLimit = 16_384;

    /// <summary>/dev/shm size when the spec asks for none (Docker's default).</summary>
    internal const long DefaultShmMib = 64;

    // Docker's default capability set: what ordinary services need, without admin powers.
    private static readonly string[] _capabilities =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ];

    private static readonly string[] _maskedPaths =
    [
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
    ];

    private static readonly string[] _readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

    /// <summary>Creates bundle/rootfs (with links where the host's top-level dirs are links) and writes bundle/config.json.</summary>
    /// <exception cref="InstanceFailedException">The spec asks for an OCI image; this agent runs the host environment only.</exception>
    /// <param name="context">The instance.</param>
    /// <param name="outboundNetwork">Agent:OutboundNetwork: keep the host's resolv.conf rather than one without name servers.</param>
    public static void Write(InstanceContext context, bool outboundNetwork)
    {
        var image = context.Assignment.Spec?.Image ?? "";
        if (image.Length > 0 && image != "host")
        {
            throw new InstanceFailedException($"containers[0].image '{image}': this agent runs instances in the host environment only; set image to \"host\"");
        }

        var rootfs = Path.Combine(context.BundleDir, "rootfs");
        Directory.CreateDirectory(rootfs);
        foreach (var dir in HostDirectories)
        {
            var info = new DirectoryInfo(dir);
            var target = Path.Combine(rootfs, dir.TrimStart('/'));
            if (info.LinkTarget is { } link && !Path.Exists(target))
            {
                // Debian 12 merged /usr: /bin -> usr/bin. Mirror the link; the /usr bind makes it resolve.
                File.CreateSymbolicLink(target, link);
            }
        }

        var tmp = Path.Combine(context.Dir, "tmp");
        Directory.CreateDirectory(tmp);
        File.SetUnixFileMode(tmp, (UnixFileMode)Convert.ToInt32("1777", 8));

        var mounts = context.Mounts.Concat(NameResolutionFiles(context, outboundNetwork)).ToList();
        var config = Build(context.Assignment, mounts, context.Record.VenvDir, tmp, HostDirectories.Where(IsRealDirectory), context.Devices, context.PlatformEnvironment);
        var json = config.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        var path = Path.Combine(context.BundleDir, "config.json");
        File.WriteAllText(path + ".tmp", json);
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>
    /// The instance's own /etc/hosts (localhost and its name at its address, so looking up its own name
    /// never needs DNS) and, without outbound network, a resolv.conf with no name servers: the host's
    /// resolvers are unreachable from the bridge then, and every lookup would wait out a timeout.
    /// </summary>
    internal static IEnumerable<OciMount> NameResolutionFiles(InstanceContext context, bool outboundNetwork)
    {
        var hostname = Hostname(context.Assignment.InstanceId);
        var hosts = Path.Combine(context.Dir, "hosts");
        var own = context.Record.Ip.Length > 0 ? $"{context.Record.Ip}\t{hostname}\n" : "";
        File.WriteAllText(hosts, $"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{own}");
        yield return OciMount.Bind(hosts, "/etc/hosts", readOnly: true);
        if (!outboundNetwork)
        {
            var resolv = Path.Combine(context.Dir, "resolv.conf");
            File.WriteAllText(resolv, "# No name servers: this node gives instances no outbound network (Agent:OutboundNetwork is false).\n");
            yield return OciMount.Bind(resolv, "/etc/resolv.conf", readOnly: true);
        }
    }

    /// <summary>The OCI runtime config for an assignment (pure: unit tests call it directly).</summary>
    /// <param name="assignment">The instance.</param>
    /// <param name="storage">The resolved storage mounts (host and empty_dir).</param>
    /// <param name="venvDir">The virtual environment to mount and put first on PATH, or "".</param>
    /// <param name="tmpDir">The host directory that becomes the private /tmp.</param>
    /// <param name="hostDirectories">The host directories bound read-only into the root.</param>
    /// <param name="devices">Character devices (GPUs) to create and allow; nothing else is allowed.</param>
    /// <param name="platformEnvironment">Variables the platform sets last (GPU visibility and limits).</param>
    public static JsonObject Build(
        InstanceAssignment assignment,
        IEnumerable<OciMount> storage,
        string venvDir,
        string tmpDir,
        IEnumerable<string> hostDirectories,
        IReadOnlyList<OciDevice>? devices = null,
        IReadOnlyDictionary<string, string>? platformEnvironment = null)
    {
        devices ??= [];
        var spec = assignment.Spec ?? new InstanceSpec();
        var instanceId = assignment.InstanceId;

        var mounts = new List<OciMount>();
        mounts.AddRange(hostDirectories.Select(d => OciMount.Bind(d, d, readOnly: true) with { Options = ["rbind", "ro"] }));
        mounts.Add(new OciMount("/proc", "proc", "proc", []));
        mounts.Add(new OciMount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]));
        mounts.Add(new OciMount("/dev/pts", "devpts", "devpts", ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]));
        var storageList = storage.ToList();
        if (storageList.All(m => m.Destination != "/dev/shm"))
        {
            // An empty_dir {medium: memory} at /dev/shm replaces this one (its size_limit wins over shm_size).
            mounts.Add(OciMount.Tmpfs("/dev/shm", spec.ShmMib > 0 ? spec.ShmMib : DefaultShmMib, noExec: true) with { Source = "shm" });
        }

        mounts.Add(new OciMount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]));
        mounts.Add(new OciMount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]));
        mounts.Add(new OciMount("/sys/fs/cgroup", "cgroup", "cgroup", ["nosuid", "noexec", "nodev", "relatime", "ro"]));
        mounts.Add(OciMount.Bind(tmpDir, "/tmp", readOnly: false));
        if (venvDir.Length > 0)
        {
            mounts.Add(OciMount.Bind(venvDir, venvDir, readOnly: true));
        }

        mounts.AddRange(storageList);

        var resources = new JsonObject
        {
            ["devices"] = new JsonArray([new JsonObject { ["allow"] = false, ["access"] = "rwm" }, .. devices.Select(d => d.ToCgroupRule())]),
            ["pids"] = new JsonObject { ["limit"] = PidsLimit },
        };
        if (spec.MemoryMib > 0)
        {
            resources["memory"] = new JsonObject { ["limit"] = spec.MemoryMib * 1024 * 1024 };
        }

        if (spec.CpuMillis > 0)
        {
            resources["cpu"] = new JsonObject { ["quota"] = spec.CpuMillis * CpuPeriodMicros / 1000, ["period"] = CpuPeriodMicros };
        }

        var capabilities = new JsonArray(_capabilities.Select(c => (JsonNode?)JsonValue.Create(c)).ToArray());
        return new JsonObject
        {
            ["ociVersion"] = "1.0.2",
            ["process"] = new JsonObject
            {
                ["terminal"] = false,
                ["user"] = new JsonObject { ["uid"] = 0, ["gid"] = 0 },
                ["args"] = Strings(Arguments(spec)),
                ["env"] = Strings(Environment(assignment, venvDir, platformEnvironment).Select(kv => kv.Key + "=" + kv.Value)),
                ["cwd"] = "/",
                ["capabilities"] = new JsonObject
                {
                    ["bounding"] = capabilities.DeepClone(),
                    ["effective"] = capabilities.DeepClone(),
                    ["permitted"] = capabilities,
                },
                ["noNewPrivileges"] = true,
            },
            ["root"] = new JsonObject { ["path"] = "rootfs", ["readonly"] = true },
            ["hostname"] = Hostname(instanceId),
            ["mounts"] = new JsonArray(mounts.Select(m => (JsonNode?)m.ToJson()).ToArray()),
            ["linux"] = new JsonObject
            {
                ["cgroupsPath"] = Naming.CgroupsPath(instanceId),
                ["devices"] = new JsonArray([.. devices.Select(d => d.ToJson())]),
                ["resources"] = resources,
                ["namespaces"] = new JsonArray(
                    new JsonObject { ["type"] = "pid" },
                    new JsonObject { ["type"] = "ipc" },
                    new JsonObject { ["type"] = "uts" },
                    new JsonObject { ["type"] = "mount" },
                    new JsonObject { ["type"] = "network", ["path"] = Naming.NetnsPath(instanceId) }),
                ["maskedPaths"] = Strings(_maskedPaths),
                ["readonlyPaths"] = Strings(_readonlyPaths),
            },
        };
    }

    /// <summary>The process arguments: <c>/bin/sh -c script</c>, or the command as is.</summary>
    /// <exception cref="InstanceFailedException">Neither is set.</exception>
    public static IReadOnlyList<string> Arguments(InstanceSpec spec)
    {
        if (spec.Script.Length > 0)
        {
            return ["/bin/sh", "-c", spec.Script];
        }

        if (spec.Command.Count > 0)
        {
            return spec.Command.ToArray();
        }

        throw new InstanceFailedException("the instance has neither a script nor a command; set containers[0].script or containers[0].command");
    }

    /// <summary>The environment: defaults, then the spec's env, then what the platform sets (PORT, EAS_*, venv, GPUs).</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Environment(
        InstanceAssignment assignment,
        string venvDir,
        IReadOnlyDictionary<string, string>? platformEnvironment = null)
    {
        var spec = assignment.Spec ?? new InstanceSpec();
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["PATH"] = DefaultPath,
            ["HOME"] = "/tmp",
        };
        foreach (var (key, value) in spec.Env.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            env[key] = value;
        }

        env["PORT"] = spec.Port.ToString(CultureInfo.InvariantCulture);
        env["EAS_INSTANCE_ID"] = assignment.InstanceId;
        env["EAS_SERVICE_NAME"] = assignment.Service;
        env["EAS_SERVICE_VERSION"] = assignment.ServiceVersion.ToString(CultureInfo.InvariantCulture);
        if (venvDir.Length > 0)
        {
            env["VIRTUAL_ENV"] = venvDir;
            env["PATH"] = Path.Combine(venvDir, "bin") + ":" + env["PATH"];
        }

        foreach (var (key, value) in platformEnvironment ?? new Dictionary<string, string>())
        {
            env[key] = value;
        }

        return env.ToList();
    }

    private static bool IsRealDirectory(string path)
    {
        var info = new DirectoryInfo(path);
        return info.Exists && info.LinkTarget is null;
    }

    private static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());

    private static string Hostname(string instanceId) => instanceId.Length > 63 ? instanceId[..63] : instanceId;
}
