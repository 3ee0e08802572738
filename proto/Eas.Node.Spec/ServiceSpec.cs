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

    /// <summary><c>containers[0]</c>; Eas.Node runs one container per instance.</summary>
    public required ContainerSpec Container { get; init; }

    /// <summary><c>storage[]</c>.</summary>
    public IReadOnlyList<StorageSpec> Storage { get; init; } = [];

    /// <summary><c>token</c>, or null when the coordinator must generate one.</summary>
    public string? Token { get; init; }

    /// <summary>The size of /dev/shm in MiB: <see cref="ShmSizeGb"/> or 64.</summary>
    public long ShmMib => ShmSizeGb is { } gb ? (long)Math.Ceiling(gb * 1024) : 64;

    /// <summary>CPU in thousandths of a core.</summary>
    public long CpuMillis => (long)Math.Round(Cpu * 1000);

    /// <summary>The slice's GPU memory in MiB (<see cref="GpuMemoryGb"/> × 1024), or 0 when the service takes no slice.</summary>
    public long GpuMemoryMib => GpuMemoryGb is { } g ? g * 1024L : 0;

    /// <summary>True when the service needs a GPU: whole GPUs or a slice of one.</summary>
    public bool UsesGpu => Gpu > 0 || GpuMemoryGb is not null;

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
        && Gpu == other.Gpu
        && GpuMemoryGb == other.GpuMemoryGb
        && GpuCorePercentage == other.GpuCorePercentage
        && GpuModel == other.GpuModel
        && GpuDriverVersion == other.GpuDriverVersion
        && Container.Equals(other.Container)
        && Storage.SequenceEqual(other.Storage)
        && Token == other.Token;

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
        && PythonRequirementsPath == other.PythonRequirementsPath;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Image, Script, Command?.Count, Port, Env.Count, PythonRequirements.Count, PythonRequirementsPath);
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
