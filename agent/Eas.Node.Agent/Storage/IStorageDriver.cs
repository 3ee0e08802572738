using Eas.Node.Agent.Instances;
using Eas.Node.Contracts.V1;

namespace Eas.Node.Agent.Storage;

/// <summary>
/// Makes one kind of storage (oss, nfs, git, cache) available on the node for an instance, as a host path
/// the instance's bundle binds at its mount_path. Drivers keep what they share between instances (one s3fs
/// or NFS mount per source, one cache entry per source) counted per instance, persisted under the state
/// dir, so an agent restart neither leaks nor mounts twice; the last release undoes it.
/// </summary>
public interface IStorageDriver
{
    /// <summary>The storage kind this driver handles.</summary>
    Mount.SourceOneofCase Kind { get; }

    /// <summary>Makes the storage available for the instance and returns where it is on the host.</summary>
    /// <exception cref="InstanceFailedException">It cannot be provided; the message says why and what to fix.</exception>
    Task<string> AcquireAsync(StorageRequest request, CancellationToken cancellationToken);

    /// <summary>Releases everything the instance holds of this kind; idempotent, also for an instance the agent no longer knows.</summary>
    Task ReleaseAsync(string instanceId, CancellationToken cancellationToken);
}

/// <summary>One storage entry of one instance.</summary>
/// <param name="Context">The instance (id, directory, progress reporting).</param>
/// <param name="Mount">The entry.</param>
/// <param name="Index">Its index in the spec's storage list (for messages: storage[N]).</param>
/// <param name="HostPathOf">
/// Maps a path inside the instance to the host path behind it, through the entries resolved before this one
/// (a cache entry reads its source through it); null when no earlier entry covers the path.
/// </param>
public sealed record StorageRequest(InstanceContext Context, Mount Mount, int Index, Func<string, string?> HostPathOf)
{
    /// <summary>"storage[N] (/mount/path)", the way errors name the entry.</summary>
    public string Name => $"storage[{Index}] ({Mount.MountPath})";
}
