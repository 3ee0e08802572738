namespace Eas.Node.Spec;

/// <summary>
/// A validated, normalized EAS service spec. Produced only by <see cref="SpecParser"/>;
/// every value here has passed validation, and defaults are filled in.
/// </summary>
public sealed record ServiceSpec
{
    /// <summary><c>metadata.name</c>: lowercase letters, digits and <c>_</c>, 3–63 characters.</summary>
    public required string Name { get; init; }

    /// <summary><c>metadata.instance</c>: desired replicas (default 1; 0 allowed).</summary>
    public int Instance { get; init; } = 1;

    /// <summary><c>metadata.cpu</c> in cores (default 1); request and cgroup limit.</summary>
    public double Cpu { get; init; } = 1;

    /// <summary><c>metadata.memory</c> in MB (default 1024); request and cgroup limit.</summary>
    public int MemoryMb { get; init; } = 1024;

    /// <summary><c>metadata.shm_size</c> in GB, or null for the default 64 MiB /dev/shm.</summary>
    public double? ShmSizeGb { get; init; }

    /// <summary><c>metadata.rpc.keepalive</c>: per-request gateway timeout in ms (default 5000).</summary>
    public int KeepaliveMs { get; init; } = 5000;

    /// <summary><c>metadata.rpc.enable_sigterm</c>: SIGTERM at once when the instance starts terminating.</summary>
    public bool EnableSigterm { get; init; }

    /// <summary><c>metadata.eas.termination_grace_period</c> in seconds (default 30).</summary>
    public int TerminationGracePeriodSeconds { get; init; } = 30;

    /// <summary><c>metadata.rolling_strategy</c>: the pace of rolling updates.</summary>
    public RollingStrategy RollingStrategy { get; init; } = RollingStrategy.Default;

    /// <summary><c>metadata.gpu</c>: whole GPUs per instance, 0 to 16 (default 0: none).</summary>
    public int Gpu { get; init; }

    /// <summary>
    /// <c>metadata.gpu_memory</c>: the GPU memory of a slice of one shared GPU, in GB (1 GB = 1024 MiB), 1 to 1024;
    /// null when the service takes no slice. Never set together with a <see cref="Gpu"/> of 1 or more.
    /// </summary>
    public int? GpuMemoryGb { get; init; }

    /// <summary><c>metadata.gpu_core_percentage</c>: the slice's share of one GPU's compute, 1 to 100; only with <see cref="GpuMemoryGb"/>.</summary>
    public int? GpuCorePercentage { get; init; }

    /// <summary>
    /// <c>metadata.gpu_model</c> (an Eas.Node extension): only GPUs whose model name contains this text, compared
    /// case-insensitively (<c>"H100"</c> matches <c>"NVIDIA H100 80GB HBM3"</c>); null for any model. Only when <see cref="UsesGpu"/>.
    /// </summary>
    public string? GpuModel { get; init; }

    /// <summary>
    /// The version part of <c>features["eas.aliyun.com/gpu-driver-version"]</c> (<c>"tesla=550.127.08"</c> → <c>"550.127.08"</c>):
    /// digits and dots; a node matches when its driver version is this one or starts with it followed by a dot
    /// (<c>"550"</c> matches <c>"550.54.15"</c>). Null for any driver. Only when <see cref="UsesGpu"/>.
    /// </summary>
    public string? GpuDriverVersion { get; init; }

    /// <summary>
    /// <c>containers[0]</c>; Eas.Node runs one container per instance. Null only for an <see cref="ServiceTypes.LlmGateway"/>,
    /// which runs no instances (see <see cref="RunsInstances"/>).
    /// </summary>
    public ContainerSpec? Container { get; init; }

    /// <summary><c>storage[]</c>.</summary>
    public IReadOnlyList<StorageSpec> Storage { get; init; } = [];

    /// <summary><c>token</c>, or null when the coordinator must generate one.</summary>
    public string? Token { get; init; }

    /// <summary><c>metadata.type</c>: <see cref="ServiceTypes.Standard"/> (the default) or <see cref="ServiceTypes.LlmGateway"/>.</summary>
    public string Type { get; init; } = ServiceTypes.Standard;

    /// <summary>
    /// <c>metadata.group</c>: the service group it belongs to (<c>[a-z][a-z0-9_]{0,62}</c>), or null for none. The group is
    /// created with its first member and removed with its last.
    /// </summary>
    public string? Group { get; init; }

    /// <summary><c>metadata.enable_grpc</c>: the gateway speaks HTTP/2 cleartext (h2c) to the instances, so gRPC calls pass through.</summary>
    public bool EnableGrpc { get; init; }

    /// <summary><c>metadata.routing</c> (an Eas.Node extension): how the gateway picks an instance (default least requests).</summary>
    public ServiceRouting Routing { get; init; }

    /// <summary><c>metadata.rpc.rate_limit</c>: requests per second each instance takes, 0 for no limit (over it: 429).</summary>
    public int RateLimit { get; init; }

    /// <summary><c>metadata.rpc.max_queue_size</c>: requests in flight per instance (default 64); when every Ready instance is full: 450.</summary>
    public int MaxQueueSize { get; init; } = DefaultMaxQueueSize;

    /// <summary><c>networking.gateway_policy.rate_limit</c>: requests per second for the whole service; null when not given.</summary>
    public GatewayLimit? GatewayRateLimit { get; init; }

    /// <summary><c>networking.gateway_policy.concurrency_limit</c>: requests in flight for the whole service; null when not given.</summary>
    public GatewayLimit? GatewayConcurrencyLimit { get; init; }

    /// <summary><c>sinker</c>: where the gateway keeps call records of the service; null for none.</summary>
    public SinkerSpec? Sinker { get; init; }

    /// <summary>
    /// <c>runtime.enable_crash_block</c>: an instance whose process exits on its own (or is OOM-killed) is not restarted
    /// but kept FAILED, with its container, network and mounts, until it is restarted on request or removed.
    /// </summary>
    public bool EnableCrashBlock { get; init; }

    /// <summary>The <see cref="MaxQueueSize"/> EAS uses when <c>rpc.max_queue_size</c> is not given.</summary>
    public const int DefaultMaxQueueSize = 64;

    /// <summary>True for an <see cref="ServiceTypes.LlmGateway"/>: a marker member of its group that runs no instances.</summary>
    public bool IsLlmGateway => Type == ServiceTypes.LlmGateway;

    /// <summary>True when the service has a container to run; false for an <see cref="ServiceTypes.LlmGateway"/>.</summary>
    public bool RunsInstances => Container is not null;

    /// <summary>The size of /dev/shm in MiB: <see cref="ShmSizeGb"/> or 64.</summary>
    public long ShmMib => ShmSizeGb is { } gb ? (long)Math.Ceiling(gb * 1024) : 64;

    /// <summary>CPU in thousandths of a core.</summary>
    public long CpuMillis => (long)Math.Round(Cpu * 1000);

    /// <summary>The slice's GPU memory in MiB (<see cref="GpuMemoryGb"/> × 1024), or 0 when the service takes no slice.</summary>
    public long GpuMemoryMib => GpuMemoryGb is { } g ? g * 1024L : 0;

    /// <summary>True when the service needs a GPU: whole GPUs or a slice of one.</summary>
    public bool UsesGpu => Gpu > 0 || GpuMemoryGb is not null;

    /// <summary>True when the spec holds a secret besides the token: a git password.</summary>
    public bool HasStorageSecrets => Storage.Any(s => s.Git?.Password is not null);

    /// <summary>
    /// The spec without its secrets, for views and logs: no <see cref="Token"/> and no git <see cref="GitStorage.Password"/>.
    /// The stored spec keeps both; an instance built from this one could not clone a private repository.
    /// </summary>
    public ServiceSpec WithoutSecrets() => this with
    {
        Token = null,
        Storage = Storage.Select(s => s.Git is { Password: not null } git ? s with { Git = git with { Password = null } } : s).ToList(),
    };

    /// <summary>Value equality, lists compared element by element (a record alone compares list references).</summary>
    public bool Equals(ServiceSpec? other) =>
        other is not null
        && Name == other.Name
        && Instance == other.Instance
        && Cpu.Equals(other.Cpu)
        && MemoryMb == other.MemoryMb
        && Nullable.Equals(ShmSizeGb, other.ShmSizeGb)
        && KeepaliveMs == other.KeepaliveMs
        && EnableSigterm == other.EnableSigterm
        && TerminationGracePeriodSeconds == other.TerminationGracePeriodSeconds
        && RollingStrategy == other.RollingStrategy
        && Gpu == other.Gpu
        && GpuMemoryGb == other.GpuMemoryGb
        && GpuCorePercentage == other.GpuCorePercentage
        && GpuModel == other.GpuModel
        && GpuDriverVersion == other.GpuDriverVersion
        && Equals(Container, other.Container)
        && Storage.SequenceEqual(other.Storage)
        && Token == other.Token
        && EnableCrashBlock == other.EnableCrashBlock
        && Type == other.Type
        && Group == other.Group
        && EnableGrpc == other.EnableGrpc
        && Routing == other.Routing
        && RateLimit == other.RateLimit
        && MaxQueueSize == other.MaxQueueSize
        && GatewayRateLimit == other.GatewayRateLimit
        && GatewayConcurrencyLimit == other.GatewayConcurrencyLimit
        && Sinker == other.Sinker;

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = default(HashCode);
        hash.Add(Name);
        hash.Add(Instance);
        hash.Add(Cpu);
        hash.Add(MemoryMb);
        hash.Add(Gpu);
        hash.Add(GpuMemoryGb);
        hash.Add(GpuCorePercentage);
        hash.Add(GpuModel);
        hash.Add(GpuDriverVersion);
        hash.Add(Container);
        hash.Add(Storage.Count);
        hash.Add(Token);
        hash.Add(EnableCrashBlock);
        hash.Add(Type);
        hash.Add(Group);
        hash.Add(EnableGrpc);
        hash.Add(Routing);
        hash.Add(RateLimit);
        hash.Add(MaxQueueSize);
        hash.Add(GatewayRateLimit);
        hash.Add(GatewayConcurrencyLimit);
        hash.Add(Sinker);
        return hash.ToHashCode();
    }
}

/// <summary><c>containers[0]</c>.</summary>
public sealed record ContainerSpec
{
    /// <summary>The <see cref="Image"/> value that means "run on the host environment, no image".</summary>
    public const string HostImage = "host";

    /// <summary>"host" for the host environment, or an OCI image reference.</summary>
    public required string Image { get; init; }

    /// <summary>Run with <c>/bin/sh -c</c>; exactly one of Script and Command is set.</summary>
    public string? Script { get; init; }

    /// <summary>Exec'd without a shell.</summary>
    public IReadOnlyList<string>? Command { get; init; }

    /// <summary>The port the process listens on (1–65535; not 8080 or 9090).</summary>
    public required int Port { get; init; }

    /// <summary><c>env[]</c> in order; names are unique.</summary>
    public IReadOnlyList<EnvVar> Env { get; init; } = [];

    /// <summary><c>prepare.pythonRequirements</c>: pip requirement strings.</summary>
    public IReadOnlyList<string> PythonRequirements { get; init; } = [];

    /// <summary><c>prepare.pythonRequirementsPath</c>: an absolute path inside the instance.</summary>
    public string? PythonRequirementsPath { get; init; }

    /// <summary><c>startup_check</c>: gates the other checks until it passes; failing it restarts the instance. Null for none.</summary>
    public ProbeSpec? StartupCheck { get; init; }

    /// <summary>
    /// <c>readiness_check</c> (or its older name <c>health_check</c>): the instance takes requests only while it passes.
    /// Null for the default: a TCP connection to <see cref="Port"/>.
    /// </summary>
    public ProbeSpec? ReadinessCheck { get; init; }

    /// <summary><c>liveness_check</c>: failing it restarts the instance in place. Null for none.</summary>
    public ProbeSpec? LivenessCheck { get; init; }

    /// <summary>True when the instance runs on the host environment rather than an OCI image.</summary>
    public bool UsesHostEnvironment => Image == HostImage;

    /// <summary>Value equality, lists compared element by element.</summary>
    public bool Equals(ContainerSpec? other) =>
        other is not null
        && Image == other.Image
        && Script == other.Script
        && (Command is null ? other.Command is null : other.Command is not null && Command.SequenceEqual(other.Command))
        && Port == other.Port
        && Env.SequenceEqual(other.Env)
        && PythonRequirements.SequenceEqual(other.PythonRequirements)
        && PythonRequirementsPath == other.PythonRequirementsPath
        && Equals(StartupCheck, other.StartupCheck)
        && Equals(ReadinessCheck, other.ReadinessCheck)
        && Equals(LivenessCheck, other.LivenessCheck);

    /// <inheritdoc />
    public override int GetHashCode() =>
        HashCode.Combine(HashCode.Combine(Image, Script, Command?.Count, Port, Env.Count, PythonRequirements.Count, PythonRequirementsPath), StartupCheck, ReadinessCheck, LivenessCheck);
}

/// <summary>One <c>env[]</c> entry.</summary>
public sealed record EnvVar(string Name, string Value);

/// <summary>One <c>storage[]</c> entry: a mount path and exactly one source.</summary>
public sealed record StorageSpec
{
    /// <summary>Absolute path inside the instance, without <c>..</c>; trailing slash removed.</summary>
    public required string MountPath { get; init; }

    /// <summary><c>host {path, readOnly}</c>: a host directory (absolute after parsing).</summary>
    public HostStorage? Host { get; init; }

    /// <summary><c>empty_dir {medium, size_limit}</c>.</summary>
    public EmptyDirStorage? EmptyDir { get; init; }

    /// <summary><c>oss {path, readOnly, endpoint, secret}</c>: a bucket of an S3-compatible object store.</summary>
    public OssStorage? Oss { get; init; }

    /// <summary><c>nfs {server, path, readOnly}</c>: an NFS export.</summary>
    public NfsStorage? Nfs { get; init; }

    /// <summary><c>git {repo, branch, commit, username, password}</c>: a read-only checkout of a git repository.</summary>
    public GitStorage? Git { get; init; }

    /// <summary><c>cache {path, capacity}</c>: a node-local, read-only copy of a folder of another mount.</summary>
    public CacheStorage? Cache { get; init; }

    /// <summary>The entry's kind as the JSON spells it: <c>host</c>, <c>empty_dir</c>, <c>oss</c>, <c>nfs</c>, <c>git</c> or <c>cache</c>.</summary>
    public string Kind =>
        Host is not null ? StorageKinds.Host
        : EmptyDir is not null ? StorageKinds.EmptyDir
        : Oss is not null ? StorageKinds.Oss
        : Nfs is not null ? StorageKinds.Nfs
        : Git is not null ? StorageKinds.Git
        : Cache is not null ? StorageKinds.Cache
        : string.Empty;

    /// <summary>True when the instance can only read the mount: git and cache always, host, oss and nfs when <c>readOnly</c>.</summary>
    public bool ReadOnly =>
        Host?.ReadOnly ?? Oss?.ReadOnly ?? Nfs?.ReadOnly ?? (Git is not null || Cache is not null);
}

/// <summary>The storage kind names of the JSON.</summary>
public static class StorageKinds
{
    /// <summary><c>host</c> (an Eas.Node extension).</summary>
    public const string Host = "host";

    /// <summary><c>empty_dir</c>.</summary>
    public const string EmptyDir = "empty_dir";

    /// <summary><c>oss</c>.</summary>
    public const string Oss = "oss";

    /// <summary><c>nfs</c>.</summary>
    public const string Nfs = "nfs";

    /// <summary><c>git</c>.</summary>
    public const string Git = "git";

    /// <summary><c>cache</c>.</summary>
    public const string Cache = "cache";

    /// <summary>Every kind Eas.Node mounts, in the order messages list them.</summary>
    public static IReadOnlyList<string> All { get; } = [Host, EmptyDir, Oss, Nfs, Git, Cache];

    /// <summary>The kinds a <c>cache</c> may copy from: those that bring data in.</summary>
    public static IReadOnlyList<string> CacheSources { get; } = [Host, Oss, Nfs, Git];
}

/// <summary><c>storage[].host</c>.</summary>
public sealed record HostStorage(string Path, bool ReadOnly);

/// <summary><c>storage[].empty_dir</c>: a fresh folder per instance.</summary>
/// <param name="Medium"><see cref="DiskMedium"/> ("", node disk) or <see cref="MemoryMedium"/> ("memory", tmpfs).</param>
/// <param name="SizeLimitMib">
/// <c>size_limit</c> in MiB, or 0 when none was given (no limit of its own). The JSON gives a number
/// of GiB (EAS style, <c>2</c>) or a string with a unit (<c>"512Mi"</c>, <c>"2Gi"</c>, <c>"1Ti"</c>).
/// </param>
public sealed record EmptyDirStorage(string Medium, long SizeLimitMib)
{
    /// <summary>The node's disk.</summary>
    public const string DiskMedium = "";

    /// <summary>A tmpfs, counted against the instance's memory.</summary>
    public const string MemoryMedium = "memory";
}

/// <summary>
/// <c>storage[].oss</c>: a bucket (or a folder of one) of an S3-compatible object store, from
/// <c>"path": "oss://bucket/prefix/"</c>.
/// </summary>
/// <param name="Bucket">The bucket name: 3–63 characters of lowercase letters, digits, <c>-</c> and <c>.</c>.</param>
/// <param name="Prefix">The folder inside the bucket without a leading or trailing slash (<c>"models/qwen"</c>); <c>""</c> for the whole bucket.</param>
/// <param name="Endpoint"><c>"host[:port]"</c> or an <c>http(s)://host[:port]</c> URL; null for the node's default endpoint.</param>
/// <param name="Secret">
/// The NAME of a credential in the node's secrets file (an Eas.Node extension); null for the node's default
/// credential. Never the key itself: a spec carries no object-store keys.
/// </param>
/// <param name="ReadOnly">Mount read-only (EAS default: false).</param>
public sealed record OssStorage(string Bucket, string Prefix, string? Endpoint, string? Secret, bool ReadOnly)
{
    /// <summary>The path as EAS writes it: <c>oss://bucket/</c> or <c>oss://bucket/prefix/</c>.</summary>
    public string Path => Prefix.Length == 0 ? $"oss://{Bucket}/" : $"oss://{Bucket}/{Prefix}/";
}

/// <summary><c>storage[].nfs</c>: an NFS export.</summary>
/// <param name="Server">The server's host name or IP address, without a scheme or port.</param>
/// <param name="Path">The exported path on the server: absolute, without <c>..</c>, trailing slash removed (default <c>/</c>).</param>
/// <param name="ReadOnly">Mount read-only (default false).</param>
public sealed record NfsStorage(string Server, string Path, bool ReadOnly);

/// <summary>
/// <c>storage[].git</c>: a repository cloned when the instance is prepared; always mounted read-only.
/// <see cref="Password"/> is a secret: diagnostics never show it, but the stored spec (and so
/// <see cref="SpecWriter.ToJson"/>) keeps it; use <see cref="ServiceSpec.WithoutSecrets"/> for a spec to show.
/// </summary>
/// <param name="Repo">An <c>https://</c>, <c>http://</c> or <c>file://</c> URL, with no user name or password in it.</param>
/// <param name="Branch">The branch to check out (default <c>"master"</c>, as on EAS).</param>
/// <param name="Commit">A commit id (7–40 hex digits, lowercase) to check out instead of the branch tip; null for the tip.</param>
/// <param name="Username">The user name for HTTP authentication; null for none.</param>
/// <param name="Password">The password or access token for HTTP authentication; null for none.</param>
public sealed record GitStorage(string Repo, string Branch, string? Commit, string? Username, string? Password)
{
    /// <summary>The branch EAS checks out when none is given.</summary>
    public const string DefaultBranch = "master";

    /// <inheritdoc />
    public override string ToString() =>
        $"GitStorage {{ Repo = {Repo}, Branch = {Branch}, Commit = {Commit}, Username = {Username}, Password = {(Password is null ? "" : "***")} }}";
}

/// <summary>
/// <c>storage[].cache</c>: a node-local, read-only copy of a folder that another storage entry of the same spec
/// (host, oss, nfs or git) mounts; filled once per node and shared by the instances on it.
/// </summary>
/// <param name="SourcePath">
/// <c>path</c>: the folder to cache, as the instance sees it (absolute, clean), under the <c>mount_path</c> of
/// another host, oss, nfs or git entry.
/// </param>
/// <param name="CapacityMib">
/// <c>capacity</c> in MiB, or 0 for the node's default. The JSON gives a number of GB (<c>200</c>) or a size with a
/// unit (<c>"200G"</c>, <c>"512Mi"</c>, <c>"1.5T"</c>, <c>"100GB"</c>); every unit is binary (1 G = 1024 MiB).
/// </param>
public sealed record CacheStorage(string SourcePath, long CapacityMib);
