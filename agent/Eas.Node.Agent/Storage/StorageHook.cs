using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Interop;
using Eas.Node.Agent.Runtime;
using Eas.Node.Contracts.V1;

namespace Eas.Node.Agent.Storage;

/// <summary>
/// Resolves the instance's mounts before the bundle is written: host paths and empty_dirs directly, every
/// other kind through its <see cref="IStorageDriver"/> (cache entries last, since they read another entry).
/// On stop, releases what the drivers hold for the instance and detaches anything still mounted under its directory.
/// </summary>
public sealed class StorageHook(IEnumerable<IStorageDriver> drivers) : IPrestartHook, IStopHook
{
    private readonly IReadOnlyDictionary<Mount.SourceOneofCase, IStorageDriver> _drivers = drivers.ToDictionary(d => d.Kind);

    /// <inheritdoc/>
    public string Name => "storage";

    /// <inheritdoc/>
    public async Task PrestartAsync(InstanceContext context, CancellationToken cancellationToken)
    {
        var spec = context.Assignment.Spec ?? new();
        StorageMounts.CreateEmptyDirs(spec, context.Dir);
        context.Mounts.Clear();
        context.Mounts.AddRange(StorageMounts.Resolve(spec, context.Dir));

        // Host paths of the entries resolved so far, by mount path (for cache sources).
        var resolved = spec.Mounts
            .Where(m => m.SourceCase == Mount.SourceOneofCase.Host)
            .ToDictionary(m => StorageMounts.Normalize(m.MountPath), m => m.Host.Path, StringComparer.Ordinal);
        var order = spec.Mounts
            .Select((mount, index) => (Mount: mount, Index: index))
            .Where(e => !StorageMounts.IsBuiltIn(e.Mount))
            .OrderBy(e => e.Mount.SourceCase == Mount.SourceOneofCase.Cache ? 1 : 0)
            .ThenBy(e => e.Index);
        foreach (var (mount, index) in order)
        {
            if (!_drivers.TryGetValue(mount.SourceCase, out var driver))
            {
                throw new InstanceFailedException($"storage[{index}] ({mount.MountPath}): this agent cannot mount {mount.SourceCase} storage");
            }

            var request = new StorageRequest(context, mount, index, path => StorageMounts.MapToHost(resolved, path));
            var hostPath = await driver.AcquireAsync(request, cancellationToken);
            resolved[StorageMounts.Normalize(mount.MountPath)] = hostPath;
            context.Mounts.Add(OciMount.Bind(hostPath, StorageMounts.Normalize(mount.MountPath), mount.ReadOnly));
        }
    }

    /// <inheritdoc/>
    public async Task StopAsync(InstanceContext context, CancellationToken cancellationToken)
    {
        foreach (var driver in _drivers.Values)
        {
            await driver.ReleaseAsync(context.InstanceId, cancellationToken);
        }

        // runc mounts inside the container's own mount namespace, so normally nothing is mounted here on the
        // host; this catches what a crashed runc or an operator left behind, deepest first.
        foreach (var mountPoint in HostMountTable.MountPointsUnder(context.Dir, includeDir: true).OrderByDescending(p => p.Length))
        {
            Mounts.Detach(mountPoint);
        }
    }
}
