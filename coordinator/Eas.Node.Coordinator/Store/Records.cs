using System.Text.Json.Serialization;
using Eas.Node.Contracts.V1;
using Eas.Node.Spec;

namespace Eas.Node.Coordinator.Store;

/// <summary>
/// An object the store versions: <see cref="Revision"/> is the store revision of its last write
/// (etcd's <c>mod_revision</c>); 0 means "not stored yet". Writes compare it with the stored one.
/// </summary>
public interface IVersioned
{
    /// <summary>The store revision of the last write; 0 for a new object.</summary>
    long Revision { get; }
}

/// <summary>A service: what the user asked for, and the version of its spec that is current.</summary>
public sealed record ServiceRecord : IVersioned
{
    /// <summary>The service name (the key).</summary>
    public required string Name { get; init; }

    /// <summary>The current spec version (1, 2, …); its JSON is in the service's versions.</summary>
    public required int Version { get; init; }

    /// <summary>The invocation token, generated at create when the spec had none; modify keeps it.</summary>
    public required string Token { get; init; }

    /// <summary>The desired instance count (scale changes it; stop keeps it).</summary>
    public required int Replicas { get; init; }

    /// <summary>Stopped by the user: run nothing, remember <see cref="Replicas"/>.</summary>
    public bool Stopped { get; init; }

    /// <summary>Being deleted: stop everything, then remove the service.</summary>
    public bool Deleting { get; init; }

    /// <summary>Why the service is not Running, as far as the coordinator knows (e.g. no node fits).</summary>
    public string Message { get; init; } = "";

    /// <summary>The highest version ever stored (a rollback makes an older one current; the next change gets a new number).</summary>
    public int LatestVersion { get; init; }

    /// <summary>The version that was current before the last modify, restart or rollback: where a plain rollback goes; 0 for none.</summary>
    public int PreviousVersion { get; init; }

    /// <summary>True from a modify, restart or rollback until every instance runs <see cref="Version"/> and enough are Ready.</summary>
    public bool RolloutActive { get; init; }

    /// <summary>Why the rollout to <see cref="Version"/> is paused (a new instance failed or never got Ready); "" while it runs or is done.</summary>
    public string RolloutPaused { get; init; } = "";

    /// <summary>The current spec's <c>metadata.type</c> (Standard or LLMGatewayService), kept here so that views need no spec.</summary>
    public string Type { get; init; } = ServiceTypes.Standard;

    /// <summary>The current spec's <c>metadata.group</c>, or "" for none; membership counts only while not <see cref="Deleting"/>.</summary>
    public string Group { get; init; } = "";

    /// <summary>The weight 0-1000 in its group's customized traffic mode: 100 when it joined an auto group, 0 when it joined a customized one.</summary>
    public int GroupWeight { get; init; } = GroupRecord.DefaultWeight;

    /// <summary>Whether it takes its group's traffic (release --standalone / --grouping).</summary>
    public MemberTrafficState TrafficState { get; init; }

    /// <summary>True for an LLMGatewayService: a marker member of its group that runs no instances.</summary>
    [JsonIgnore]
    public bool IsLlmGateway => Type == ServiceTypes.LlmGateway;

    /// <summary>The next version number to store: one above every version so far.</summary>
    public int NextVersion => Math.Max(Version, LatestVersion) + 1;

    /// <summary>When the service was created.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the service was last changed by the user.</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <inheritdoc />
    [JsonIgnore]
    public long Revision { get; init; }
}

/// <summary>Whether a group member takes the group's traffic.</summary>
public enum MemberTrafficState
{
    /// <summary>Takes a share of the group endpoint's traffic (the state a member joins with).</summary>
    Grouping,

    /// <summary>Takes none; only its own endpoint reaches it.</summary>
    Standalone,
}

/// <summary>How a group's endpoint splits traffic among its members.</summary>
public enum GroupTrafficMode
{
    /// <summary>By each member's share of the group's Ready instances (canary by instance count; the default).</summary>
    Auto,

    /// <summary>By each member's weight 0-1000 (blue-green).</summary>
    Customized,
}

/// <summary>
/// A service group (<c>metadata.group</c>): created in the same commit as its first member and removed in the same
/// commit as its last member leaves. Its members are the services naming it; every membership change rewrites
/// this record, so two changes that race conflict on its revision and one of them retries.
/// </summary>
public sealed record GroupRecord : IVersioned
{
    /// <summary>The weight a member gets when it joins a group in <see cref="GroupTrafficMode.Auto"/> mode.</summary>
    public const int DefaultWeight = 100;

    /// <summary>The largest weight.</summary>
    public const int MaxWeight = 1000;

    /// <summary>The group name (the key).</summary>
    public required string Name { get; init; }

    /// <summary>How its endpoint splits traffic.</summary>
    public GroupTrafficMode TrafficMode { get; init; }

    /// <summary>When its first member created it.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When its mode or membership last changed.</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <inheritdoc />
    [JsonIgnore]
    public long Revision { get; init; }
}

/// <summary>One version of a service's spec; written once, never changed.</summary>
/// <param name="Service">The service name.</param>
/// <param name="Version">1 for the spec given at create, then one more per modify.</param>
/// <param name="SpecJson">The canonical EAS JSON of this version, without the token.</param>
/// <param name="Warnings">The parser's warnings for this version.</param>
/// <param name="CreatedAt">When the version was stored.</param>
public sealed record ServiceVersionRecord(string Service, int Version, string SpecJson, IReadOnlyList<string> Warnings, DateTimeOffset CreatedAt);

/// <summary>One instance of a service: where it is placed and what its agent last reported.</summary>
public sealed record InstanceRecord : IVersioned
{
    /// <summary>"&lt;service&gt;-&lt;8 lowercase hex&gt;".</summary>
    public required string Id { get; init; }

    /// <summary>The service it belongs to.</summary>
    public required string Service { get; init; }

    /// <summary>The spec version it runs.</summary>
    public required int ServiceVersion { get; init; }

    /// <summary>The node it is placed on; null while unplaced.</summary>
    public string? Node { get; init; }

    /// <summary>The last reported state (PENDING until an agent reports).</summary>
    public InstanceState State { get; init; } = InstanceState.Pending;

    /// <summary>Why it failed or last restarted, or why it cannot be placed.</summary>
    public string Reason { get; init; } = "";

    /// <summary>The address inside the instance network.</summary>
    public string Ip { get; init; } = "";

    /// <summary>The port the process listens on.</summary>
    public int Port { get; init; }

    /// <summary>Restarts on its node, as the agent counts them.</summary>
    public int Restarts { get; init; }

    /// <summary>Grows when the user asks for a restart in place.</summary>
    public long RestartNonce { get; init; }

    /// <summary>The GPUs or GPU slice it was placed with; null for CPU-only instances and while unplaced.</summary>
    public GpuAllocationRecord? Gpu { get; init; }

    /// <summary>True once it has reached RUNNING (for the Started event, which happens once).</summary>
    public bool StartedOnce { get; init; }

    /// <summary>True once it has been READY (a rollout waits on new instances that never were).</summary>
    public bool ReadyOnce { get; init; }

    /// <summary>The coordinator wants it gone: out of the gateway at once, out of its node's desired set after the deregistration delay, removed once stopped.</summary>
    public bool Removing { get; init; }

    /// <summary>When <see cref="Removing"/> was set; the agent is told to stop it a deregistration delay later.</summary>
    public DateTimeOffset? RemovingSince { get; init; }

    /// <summary>When the instance was created.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When its state last changed.</summary>
    public required DateTimeOffset ChangedAt { get; init; }

    /// <inheritdoc />
    [JsonIgnore]
    public long Revision { get; init; }
}

/// <summary>Whether a node takes work.</summary>
public enum NodeStatus
{
    /// <summary>Registered and heard from within the grace period.</summary>
    Ready,

    /// <summary>Silent past the grace period: nothing new is scheduled there.</summary>
    Down,
}

/// <summary>A node (one agent) as registered.</summary>
public sealed record NodeRecord : IVersioned
{
    /// <summary>The node name (the key).</summary>
    public required string Name { get; init; }

    /// <summary>The address the gateway reaches its instances through.</summary>
    public string Address { get; init; } = "";

    /// <summary>Allocatable CPU in thousandths of a core.</summary>
    public long CpuMillis { get; init; }

    /// <summary>Allocatable memory in MiB.</summary>
    public long MemoryMib { get; init; }

    /// <summary>Labels for node selectors.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>The agent's version string.</summary>
    public string AgentVersion { get; init; } = "";

    /// <summary>Ready or Down.</summary>
    public NodeStatus Status { get; init; }

    /// <summary>No new instance is placed here (<c>easctl cordon</c>, and <c>drain</c>); what runs here stays.</summary>
    public bool Cordoned { get; init; }

    /// <summary>Being emptied (<c>easctl drain</c>): every instance here is replaced elsewhere and stopped once its replacement is Ready.</summary>
    public bool Draining { get; init; }

    /// <summary>The word <c>easctl nodes</c> shows: Down, Draining, Cordoned or Ready.</summary>
    [JsonIgnore]
    public string DisplayStatus => Status == NodeStatus.Down ? "Down" : Draining ? "Draining" : Cordoned ? "Cordoned" : "Ready";

    /// <summary>The node's GPUs as its agent last reported them, health included.</summary>
    public IReadOnlyList<GpuRecord> Gpus { get; init; } = [];

    /// <summary>The NVIDIA driver version, or "" without GPUs.</summary>
    public string GpuDriverVersion { get; init; } = "";

    /// <summary>The CUDA version the driver supports, or "".</summary>
    public string CudaVersion { get; init; } = "";

    /// <summary>Why the agent found no GPUs although it looked (no NVML library, init failed), or "".</summary>
    public string GpuUnavailableReason { get; init; } = "";

    /// <summary>When the node last registered or sent a heartbeat.</summary>
    public DateTimeOffset LastHeartbeat { get; init; }

    /// <inheritdoc />
    [JsonIgnore]
    public long Revision { get; init; }
}

/// <summary>One physical GPU of a node.</summary>
/// <param name="Index">NVML index.</param>
/// <param name="Uuid">"GPU-…".</param>
/// <param name="Model">NVML's product name.</param>
/// <param name="MemoryMib">Total memory.</param>
/// <param name="Minor">The N of /dev/nvidiaN.</param>
/// <param name="ComputeCapability">"9.0".</param>
/// <param name="MigEnabled">In MIG mode: only <paramref name="MigDevices"/> are allocatable.</param>
/// <param name="MigDevices">Its MIG devices.</param>
/// <param name="Healthy">False after an XID critical error or when lost from the bus.</param>
/// <param name="HealthReason">Why it is unhealthy, or "".</param>
public sealed record GpuRecord(
    int Index,
    string Uuid,
    string Model,
    long MemoryMib,
    int Minor,
    string ComputeCapability,
    bool MigEnabled,
    IReadOnlyList<MigDeviceRecord> MigDevices,
    bool Healthy,
    string HealthReason)
{
    /// <summary>Value equality, MIG devices compared element by element.</summary>
    public bool Equals(GpuRecord? other) =>
        other is not null
        && Index == other.Index && Uuid == other.Uuid && Model == other.Model && MemoryMib == other.MemoryMib
        && Minor == other.Minor && ComputeCapability == other.ComputeCapability && MigEnabled == other.MigEnabled
        && MigDevices.SequenceEqual(other.MigDevices) && Healthy == other.Healthy && HealthReason == other.HealthReason;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Uuid, Healthy, MigDevices.Count);
}

/// <summary>One MIG device of a GPU.</summary>
/// <param name="Uuid">"MIG-…".</param>
/// <param name="Profile">e.g. "3g.40gb".</param>
/// <param name="MemoryMib">Its memory.</param>
/// <param name="SliceCount">Compute slices out of 7.</param>
public sealed record MigDeviceRecord(string Uuid, string Profile, long MemoryMib, int SliceCount);

/// <summary>The GPU work an instance was given.</summary>
/// <param name="Kind">"whole", "mig" or "shared".</param>
/// <param name="GpuUuids">The physical GPUs (mig and shared: the one parent).</param>
/// <param name="MigUuid">The MIG device for kind "mig", else "".</param>
/// <param name="MemoryMib">GPU memory of the allocation.</param>
/// <param name="CorePercent">Share of the GPU's compute.</param>
public sealed record GpuAllocationRecord(string Kind, IReadOnlyList<string> GpuUuids, string MigUuid, long MemoryMib, int CorePercent)
{
    /// <summary>Value equality, UUIDs compared element by element.</summary>
    public bool Equals(GpuAllocationRecord? other) =>
        other is not null && Kind == other.Kind && GpuUuids.SequenceEqual(other.GpuUuids) && MigUuid == other.MigUuid
        && MemoryMib == other.MemoryMib && CorePercent == other.CorePercent;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Kind, GpuUuids.Count, MigUuid, MemoryMib, CorePercent);
}

/// <summary>One entry of the append-only event log.</summary>
/// <param name="Seq">Global sequence number, assigned by the store (0 before it is appended).</param>
/// <param name="Time">When it happened.</param>
/// <param name="Service">The service it concerns.</param>
/// <param name="InstanceId">The instance it concerns, or "".</param>
/// <param name="Type">Created, Modified, Scaled, Scheduled, Preparing, Started, Ready, Restarted, Rescheduled, Failed, Stopping, Stopped, Deleted.</param>
/// <param name="Message">A sentence for a person.</param>
/// <param name="Node">The node it happened on, or "".</param>
public sealed record EventRecord(long Seq, DateTimeOffset Time, string Service, string InstanceId, string Type, string Message, string Node);
