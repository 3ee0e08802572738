using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.State;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Eas.Node.Agent.Storage;

/// <summary>
/// <c>cache {source_path, capacity}</c>: a node-local, read-only copy of a path of another storage entry of
/// the instance (model weights on oss or nfs), kept in the <see cref="NodeCache"/>. The first instance on the
/// node fills it with parallel reads and reports the fill's progress; later instances reuse it without
/// reading the source; entries no instance uses are evicted, least recently used first, when a new one needs
/// the room.
/// </summary>
public sealed class CacheStorageDriver : IStorageDriver, IDisposable
{
    /// <summary>The cache in <c>Agent:Storage:CacheDir</c> (default &lt;StateDir&gt;/cache), with the section's capacity and parallelism.</summary>
    public CacheStorageDriver(IOptions<AgentOptions> options, AgentPaths paths, ILogger<CacheStorageDriver> logger, TimeProvider time)
        : this(new NodeCache(Settings(options.Value, paths), logger, time))
    {
    }

    internal CacheStorageDriver(NodeCache cache) => Cache = cache;

    /// <summary>The cache behind the driver.</summary>
    public NodeCache Cache { get; }

    /// <inheritdoc/>
    public Mount.SourceOneofCase Kind => Mount.SourceOneofCase.Cache;

    /// <summary>The cache settings for these agent options.</summary>
    public static NodeCacheSettings Settings(AgentOptions options, AgentPaths paths) => new()
    {
        Dir = string.IsNullOrEmpty(options.Storage.CacheDir) ? Path.Combine(paths.Root, "cache") : options.Storage.CacheDir,
        CapacityMib = options.Storage.CacheCapacityMib,
        FillParallelism = options.Storage.CacheFillParallelism,
    };

    /// <inheritdoc/>
    public async Task<string> AcquireAsync(StorageRequest request, CancellationToken cancellationToken)
    {
        var cache = request.Mount.Cache;
        var source = request.HostPathOf(cache.SourcePath)
            ?? throw new InstanceFailedException(
                $"{request.Name}: cache.source_path '{cache.SourcePath}' is under no other storage entry of the instance; mount the storage that holds it (oss, nfs, git or host) at a path above it");
        var lease = await Cache.AcquireAsync(
            new CacheRequest
            {
                InstanceId = request.Context.InstanceId,
                SourcePath = source,
                SourceShown = cache.SourcePath,
                Name = request.Name,
                Shown = StorageMounts.Normalize(request.Mount.MountPath),
                CapacityMib = cache.CapacityMib,
                CapacitySetting = cache.CapacityMib > 0 ? $"storage[{request.Index}].cache.capacity" : "Agent:Storage:CacheCapacityMib on the node (or set cache.capacity in the spec)",
            },
            request.Context.ReportProgress,
            cancellationToken);
        return lease.Path;
    }

    /// <inheritdoc/>
    public void Dispose() => Cache.Dispose();

    /// <inheritdoc/>
    public Task ReleaseAsync(string instanceId, CancellationToken cancellationToken) => Cache.ReleaseAsync(instanceId, cancellationToken);
}
