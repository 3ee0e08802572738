using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Eas.Node.Agent.Instances;
using Microsoft.Extensions.Logging;

namespace Eas.Node.Agent.Storage;

/// <summary>Where the node cache lives and how big and how fast it fills.</summary>
public sealed class NodeCacheSettings
{
    /// <summary>The cache directory.</summary>
    public required string Dir { get; init; }

    /// <summary>The total budget when a request names none.</summary>
    public long CapacityMib { get; init; } = 100 * 1024;

    /// <summary>Reader threads per fill.</summary>
    public int FillParallelism { get; init; } = 8;

    /// <summary>Range size in MiB; 0 picks it per file (8-64 MiB, about 4 ranges per reader).</summary>
    public long FillChunkMib { get; init; }
}

/// <summary>One instance's request for a cached copy of a source.</summary>
public sealed record CacheRequest
{
    /// <summary>The instance that will use the entry.</summary>
    public required string InstanceId { get; init; }

    /// <summary>The host path to cache (a directory or a file).</summary>
    public required string SourcePath { get; init; }

    /// <summary>The source as the instance names it (cache.source_path), for messages.</summary>
    public string SourceShown { get; init; } = "";

    /// <summary>The storage entry, as errors name it: "storage[2] (/mnt/model)".</summary>
    public string Name { get; init; } = "cache";

    /// <summary>What progress lines call the entry (its mount path).</summary>
    public string Shown { get; init; } = "";

    /// <summary>The cache's total budget for this request; 0 for the node's.</summary>
    public long CapacityMib { get; init; }

    /// <summary>Where the capacity in effect is set (named in errors).</summary>
    public string CapacitySetting { get; init; } = "Agent:Storage:CacheCapacityMib";
}

/// <summary>An entry an instance now uses.</summary>
/// <param name="Key">The entry's key (its directory name).</param>
/// <param name="Path">The host path to bind read-only: the data directory, or the file for a file source.</param>
/// <param name="Filled">True when this request filled it; false when it was reused.</param>
/// <param name="Bytes">The entry's size.</param>
/// <param name="Files">Its regular files.</param>
public sealed record CacheLease(string Key, string Path, bool Filled, long Bytes, int Files);

/// <summary>An entry as <see cref="NodeCache.Entries"/> lists it.</summary>
public sealed record CacheEntryInfo(string Key, string Source, long Bytes, int Files, bool Complete, DateTimeOffset LastUsed, IReadOnlySet<string> Users);

/// <summary>
/// The node-local cache: read-only copies of directories (or files) of other mounts, one entry per source
/// and source version, filled once by the first instance that needs it and shared by every later one.
/// <code>
/// &lt;Dir&gt;/&lt;key&gt;/data/          the copy
/// &lt;Dir&gt;/&lt;key&gt;/manifest.json  source, version, files, bytes
/// &lt;Dir&gt;/&lt;key&gt;/complete       the marker, written last (no marker: half filled, redone)
/// &lt;Dir&gt;/&lt;key&gt;/last-used      its mtime is the entry's last use (least recently used goes first)
/// &lt;Dir&gt;/.users/&lt;key&gt;.users    the instances using it (<see cref="StorageReferences"/>)
/// &lt;Dir&gt;/.locks/               flock files: one per key (fills), index (capacity, users)
/// </code>
/// The key is a hash of the source's host path and its version: size and mtime for a file, mtime for a
/// directory. Reusing an entry costs one stat of the source root and no reads; a directory whose files change
/// in place without its own mtime changing keeps being served from the old entry (publish new weights under
/// a new path, or replace the directory).
/// </summary>
public sealed class NodeCache : IDisposable
{
    private const long MiB = 1 << 20;
    private readonly NodeCacheSettings _settings;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ICacheSourceFiles _files;
    private readonly StorageReferences _users;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _index = new(1, 1);

    // Bytes of fills in progress in this process (counted against the capacity, never evicted).
    private readonly ConcurrentDictionary<string, long> _reserved = new(StringComparer.Ordinal);

    // Entries whose data is being flushed to disk (never evicted meanwhile).
    private readonly ConcurrentDictionary<string, Task> _syncing = new(StringComparer.Ordinal);

    /// <summary>A cache over the real file system.</summary>
    public NodeCache(NodeCacheSettings settings, ILogger logger, TimeProvider time)
        : this(settings, logger, time, CacheSourceFiles.Instance)
    {
    }

    internal NodeCache(NodeCacheSettings settings, ILogger logger, TimeProvider time, ICacheSourceFiles files)
    {
        _settings = settings;
        _logger = logger;
        _time = time;
        _files = files;
        _users = new StorageReferences(Path.Combine(settings.Dir, ".users"));
    }

    /// <summary>The cache directory.</summary>
    public string Dir => _settings.Dir;

    /// <inheritdoc/>
    public void Dispose()
    {
        _index.Dispose();
        foreach (var gate in _gates.Values)
        {
            gate.Dispose();
        }
    }

    private string Locks => Path.Combine(Dir, ".locks");

    /// <summary>The entry key of a source at a version: 32 hex digits of SHA-256.</summary>
    public static string KeyOf(string sourcePath, CacheSourceVersion version)
    {
        var identity = string.Create(CultureInfo.InvariantCulture, $"v1\n{sourcePath.TrimEnd('/')}\n{(version.IsDirectory ? "dir" : "file")}\n{version.Size}\n{version.ModifiedTicks}");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(identity)))[..32];
    }

    /// <summary>
    /// The entry for the request's source, filled now if there is none; the instance becomes one of its users.
    /// Concurrent requests for the same source wait for one fill.
    /// </summary>
    /// <exception cref="InstanceFailedException">The source is missing or unreadable, or the entry does not fit.</exception>
    public async Task<CacheLease> AcquireAsync(CacheRequest request, Action<string> progress, CancellationToken cancellationToken)
    {
        var version = _files.Stat(request.SourcePath)
            ?? throw new InstanceFailedException($"{request.Name}: the cache source {Describe(request)} does not exist; check cache.source_path and the storage entry it is under");
        var key = KeyOf(request.SourcePath, version);
        var gate = _gates.GetOrAdd(key, _ => new SemaphoreSlim(1, 1));
        if (!await gate.WaitAsync(0, cancellationToken))
        {
            progress($"cache: waiting for another instance filling {request.Shown}");
            await gate.WaitAsync(cancellationToken);
        }

        try
        {
            using var keyLock = await LockAsync(key, cancellationToken);
            var reused = await UnderIndexAsync(() => TryReuse(key, request.InstanceId), cancellationToken);
            if (reused is not null)
            {
                CacheLog.Reused(_logger, key, request.InstanceId, request.SourcePath, CacheProgress.Mib(reused.Bytes));
                progress(string.Create(CultureInfo.InvariantCulture, $"cache: ready {request.Shown} ({CacheProgress.Mib(reused.Bytes)} MiB, {reused.Files} files, reused)"));
                return new CacheLease(key, DataPath(key, reused.FileName), false, reused.Bytes, reused.Files);
            }

            return await FillAsync(key, version, request, progress, cancellationToken);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Drops the instance from every entry it uses (entries stay until evicted); returns those keys.</summary>
    public async Task<IReadOnlyList<string>> ReleaseAsync(string instanceId, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(Dir))
        {
            return [];
        }

        return await UnderIndexAsync(
            () =>
            {
                var changed = _users.RemoveEverywhere(instanceId);
                foreach (var (key, remaining) in changed)
                {
                    Touch(key);
                    CacheLog.Released(_logger, key, instanceId, remaining);
                }

                return changed.Select(c => c.Key).ToList();
            },
            cancellationToken);
    }

    /// <summary>The entries on disk, least recently used first.</summary>
    public IReadOnlyList<CacheEntryInfo> Entries() => [.. Scan().OrderBy(e => e.LastUsed)];

    /// <summary>Waits until the entries filled so far are flushed to disk.</summary>
    public Task FlushAsync() => Task.WhenAll(_syncing.Values);

    private async Task<CacheLease> FillAsync(string key, CacheSourceVersion version, CacheRequest request, Action<string> progress, CancellationToken cancellationToken)
    {
        var entry = EntryDir(key);
        if (Directory.Exists(entry))
        {
            CacheLog.Redoing(_logger, key);
            Remove(entry);
        }

        CacheTree tree;
        try
        {
            tree = _files.Walk(request.SourcePath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InstanceFailedException($"{request.Name}: listing the cache source {Describe(request)} failed: {ex.Message}");
        }

        var bytes = tree.Bytes;
        await UnderIndexAsync(() => MakeRoom(key, bytes, tree.Files.Count, request), cancellationToken);
        var fileName = version.IsDirectory ? "" : tree.Files[0].RelativePath;
        try
        {
            var readers = Math.Max(1, _settings.FillParallelism);
            var data = Path.Combine(entry, "data");
            Directory.CreateDirectory(data);
            var meter = new CacheProgress(request.Shown, bytes, progress, _time);
            CacheLog.Filling(_logger, key, CacheProgress.Mib(bytes), tree.Files.Count, request.SourcePath, readers);
            meter.Start(tree.Files.Count);
            await CacheFill.CopyAsync(_files, request.SourcePath, !version.IsDirectory, tree, data, readers, _settings.FillChunkMib * MiB, meter, cancellationToken);
            if (_files.Stat(request.SourcePath) != version)
            {
                throw new IOException("the source changed while it was copied");
            }

            var elapsed = meter.Elapsed;
            var manifest = new CacheManifest
            {
                Source = request.SourcePath,
                Version = version,
                FileName = fileName,
                Files = tree.Files.Count,
                Bytes = bytes,
                FilledAt = _time.GetUtcNow(),
                FillSeconds = Math.Round(elapsed.TotalSeconds, 3),
            };
            CacheFiles.Write(Path.Combine(entry, "manifest.json"), manifest);
            CacheFiles.Write(Path.Combine(entry, "complete"), new CacheMarker(CacheMarker.CurrentBootId, Synced: false));
            await UnderIndexAsync(
                () =>
                {
                    _users.Add(key, request.InstanceId);
                    Touch(key);
                    _reserved.TryRemove(key, out _);
                    // Registered before it starts, so that its own removal when done cannot come first.
                    var sync = new Task(() => Sync(key));
                    _syncing[key] = sync;
                    sync.Start(TaskScheduler.Default);
                    return true;
                },
                CancellationToken.None);

            var rate = (long)(bytes / Math.Max(elapsed.TotalSeconds, 0.001) / MiB);
            CacheLog.Filled(_logger, key, CacheProgress.Mib(bytes), request.SourcePath, elapsed.TotalSeconds, rate);
            progress(string.Create(CultureInfo.InvariantCulture, $"cache: ready {request.Shown} ({CacheProgress.Mib(bytes)} MiB, {tree.Files.Count} files, filled in {elapsed.TotalSeconds:0.0} s at {rate} MiB/s)"));
            return new CacheLease(key, DataPath(key, fileName), true, bytes, tree.Files.Count);
        }
        catch (Exception ex)
        {
            _reserved.TryRemove(key, out _);
            Remove(entry);
            if (ex is IOException or UnauthorizedAccessException)
            {
                CacheLog.FillFailed(_logger, key, request.SourcePath, ex.Message);
                throw new InstanceFailedException($"{request.Name}: filling the cache from {Describe(request)} failed: {ex.Message}; check the source storage entry (its mount, credentials and files)");
            }

            throw;
        }
    }

    /// <summary>The manifest of a complete, trusted entry after adding the instance as a user; null when there is none.</summary>
    private CacheManifest? TryReuse(string key, string instanceId)
    {
        var entry = EntryDir(key);
        if (CacheFiles.Read<CacheMarker>(Path.Combine(entry, "complete")) is not { IsTrusted: true }
            || CacheFiles.Read<CacheManifest>(Path.Combine(entry, "manifest.json")) is not { } manifest)
        {
            return null;
        }

        _users.Add(key, instanceId);
        Touch(key);
        return manifest;
    }

    /// <summary>
    /// Evicts unused entries, least recently used first, until <paramref name="bytes"/> more fit the capacity,
    /// and reserves them; fails with the numbers when they cannot.
    /// </summary>
    private bool MakeRoom(string key, long bytes, int files, CacheRequest request)
    {
        var capacityMib = request.CapacityMib > 0 ? request.CapacityMib : _settings.CapacityMib;
        var capacity = capacityMib * MiB;
        var neededMib = CacheProgress.Mib(bytes);
        if (bytes > capacity)
        {
            throw new InstanceFailedException(string.Create(CultureInfo.InvariantCulture,
                $"{request.Name}: the cache source {Describe(request)} holds {neededMib} MiB in {files} files, more than the cache capacity of {capacityMib} MiB; raise {request.CapacitySetting} to at least {neededMib}, or cache a smaller folder"));
        }

        var entries = Scan().Where(e => e.Key != key).ToList();
        foreach (var garbage in entries.Where(e => !e.Complete && !_reserved.ContainsKey(e.Key)))
        {
            // A half-filled entry of an earlier run (or of another agent, which still holds its lock).
            if (TryLock(garbage.Key) is { } held)
            {
                using (held)
                {
                    Remove(EntryDir(garbage.Key));
                }
            }
        }

        var complete = entries.Where(e => e.Complete).ToList();
        var used = complete.Sum(e => e.Bytes) + _reserved.Where(r => r.Key != key).Sum(r => r.Value);
        foreach (var victim in complete.Where(e => e.Users.Count == 0 && !_syncing.ContainsKey(e.Key)).OrderBy(e => e.LastUsed))
        {
            if (used + bytes <= capacity)
            {
                break;
            }

            Remove(EntryDir(victim.Key));
            _users.Forget(victim.Key);
            used -= victim.Bytes;
            CacheLog.Evicted(_logger, victim.Key, victim.Source, CacheProgress.Mib(victim.Bytes), victim.LastUsed, neededMib);
        }

        if (used + bytes > capacity)
        {
            var inUse = complete.Where(e => e.Users.Count > 0 || _syncing.ContainsKey(e.Key)).ToList();
            var instances = inUse.SelectMany(e => e.Users).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            var filling = _reserved.Where(r => r.Key != key).Sum(r => r.Value);
            var who = instances.Count == 0
                ? "no instance (being flushed to disk)"
                : string.Join(", ", instances.Take(5)) + (instances.Count > 5 ? string.Create(CultureInfo.InvariantCulture, $" and {instances.Count - 5} more") : "");
            var fillingText = filling > 0 ? string.Create(CultureInfo.InvariantCulture, $", and {CacheProgress.Mib(filling)} MiB are being filled") : "";
            throw new InstanceFailedException(string.Create(CultureInfo.InvariantCulture,
                $"{request.Name}: the cache needs {neededMib} MiB for {Describe(request)}, but of its {capacityMib} MiB capacity {CacheProgress.Mib(inUse.Sum(e => e.Bytes))} MiB are held by {inUse.Count} entries in use by {who}{fillingText}, so only {Math.Max(0, capacity - used) / MiB} MiB can be made free; stop instances that use other cached sources, or raise {request.CapacitySetting}"));
        }

        Directory.CreateDirectory(Dir);
        var available = new DriveInfo(Dir).AvailableFreeSpace;
        if (bytes > available)
        {
            throw new InstanceFailedException(string.Create(CultureInfo.InvariantCulture,
                $"{request.Name}: the cache needs {neededMib} MiB for {Describe(request)} but the disk holding {Dir} has {available / MiB} MiB free; free space there, or point Agent:Storage:CacheDir at a larger disk"));
        }

        _reserved[key] = bytes;
        return true;
    }

    /// <summary>Flushes an entry's data to disk, then marks it synced so it is trusted after a reboot too.</summary>
    private void Sync(string key)
    {
        var entry = EntryDir(key);
        try
        {
            // syncfs: the entry's files and directories in one call (the cache is one file system).
            using (var handle = File.OpenHandle(Path.Combine(entry, "manifest.json")))
            {
                if (Tmds.Linux.LibC.syncfs((int)handle.DangerousGetHandle()) != 0)
                {
                    throw new IOException($"syncfs failed: {Interop.Errors.Describe(Interop.Errors.LastLibC)}");
                }
            }

            CacheFiles.Write(Path.Combine(entry, "complete"), new CacheMarker(CacheMarker.CurrentBootId, Synced: true));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            CacheLog.SyncFailed(_logger, key, ex.Message);
        }
        finally
        {
            _syncing.TryRemove(key, out _);
        }
    }

    private IEnumerable<CacheEntryInfo> Scan()
    {
        if (!Directory.Exists(Dir))
        {
            yield break;
        }

        foreach (var entry in Directory.EnumerateDirectories(Dir))
        {
            var key = Path.GetFileName(entry);
            if (key.StartsWith('.'))
            {
                continue;
            }

            var manifest = CacheFiles.Read<CacheManifest>(Path.Combine(entry, "manifest.json"));
            var complete = manifest is not null && CacheFiles.Read<CacheMarker>(Path.Combine(entry, "complete")) is { IsTrusted: true };
            var lastUsedFile = Path.Combine(entry, "last-used");
            var lastUsed = File.Exists(lastUsedFile) ? new DateTimeOffset(File.GetLastWriteTimeUtc(lastUsedFile)) : new DateTimeOffset(Directory.GetLastWriteTimeUtc(entry));
            yield return new CacheEntryInfo(key, manifest?.Source ?? "", manifest?.Bytes ?? 0, manifest?.Files ?? 0, complete, lastUsed, _users.Users(key));
        }
    }

    private void Touch(string key)
    {
        var path = Path.Combine(EntryDir(key), "last-used");
        if (!Directory.Exists(EntryDir(key)))
        {
            return;
        }

        if (!File.Exists(path))
        {
            File.WriteAllBytes(path, []);
        }

        File.SetLastWriteTimeUtc(path, _time.GetUtcNow().UtcDateTime);
    }

    /// <summary>Removes an entry directory: renamed out of the way first, so a crash mid-delete leaves no half entry under its key.</summary>
    private void Remove(string entry)
    {
        if (!Directory.Exists(entry))
        {
            return;
        }

        var trash = Path.Combine(Dir, ".trash", Path.GetFileName(entry) + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Path.GetDirectoryName(trash)!);
        Directory.Move(entry, trash);
        Directory.Delete(trash, recursive: true);
    }

    private async Task<T> UnderIndexAsync<T>(Func<T> action, CancellationToken cancellationToken)
    {
        await _index.WaitAsync(cancellationToken);
        try
        {
            using var indexLock = await LockFileAsync(Path.Combine(Locks, "index.lock"), cancellationToken);
            return action();
        }
        finally
        {
            _index.Release();
        }
    }

    private Task<FileStream> LockAsync(string key, CancellationToken cancellationToken) => LockFileAsync(Path.Combine(Locks, key + ".lock"), cancellationToken);

    private FileStream? TryLock(string key)
    {
        try
        {
            Directory.CreateDirectory(Locks);
            return new FileStream(Path.Combine(Locks, key + ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>flock(LOCK_EX) on <paramref name="path"/> (.NET takes it for FileShare.None), polled while another process holds it.</summary>
    private static async Task<FileStream> LockFileAsync(string path, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException ex) when (ex is not (FileNotFoundException or DirectoryNotFoundException or PathTooLongException))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
            }
        }
    }

    private string EntryDir(string key) => Path.Combine(Dir, key);

    private string DataPath(string key, string fileName) => fileName.Length == 0 ? Path.Combine(EntryDir(key), "data") : Path.Combine(EntryDir(key), "data", fileName);

    private static string Describe(CacheRequest request) =>
        request.SourceShown.Length > 0 && request.SourceShown != request.SourcePath ? $"{request.SourceShown} (host path {request.SourcePath})" : request.SourcePath;
}
