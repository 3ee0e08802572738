using System.Text.Json;

namespace Eas.Node.Agent.Storage;

/// <summary>
/// Which instances use which node-level storage object (an s3fs mount, an NFS mount, a cache entry), kept as
/// one small JSON file per object under <c>&lt;dir&gt;/&lt;key&gt;.users</c>, so the counts survive an agent restart.
/// Thread-safe within the agent; keys must be file-name safe (drivers use hashes).
/// </summary>
public sealed class StorageReferences
{
    private readonly string _dir;
    private readonly Lock _gate = new();

    /// <summary>Keeps reference files in <paramref name="dir"/> (created on first use).</summary>
    public StorageReferences(string dir) => _dir = dir;

    /// <summary>Adds <paramref name="instanceId"/> as a user of <paramref name="key"/>; returns the number of users after.</summary>
    public int Add(string key, string instanceId)
    {
        lock (_gate)
        {
            var users = Read(key);
            users.Add(instanceId);
            Write(key, users);
            return users.Count;
        }
    }

    /// <summary>
    /// Removes <paramref name="instanceId"/> from every key it uses; returns the keys it was removed from and
    /// how many users each has left (0: the object can be undone).
    /// </summary>
    public IReadOnlyList<(string Key, int Remaining)> RemoveEverywhere(string instanceId)
    {
        lock (_gate)
        {
            var changed = new List<(string, int)>();
            foreach (var key in Keys())
            {
                var users = Read(key);
                if (users.Remove(instanceId))
                {
                    Write(key, users);
                    changed.Add((key, users.Count));
                }
            }

            return changed;
        }
    }

    /// <summary>The users of <paramref name="key"/>.</summary>
    public IReadOnlySet<string> Users(string key)
    {
        lock (_gate)
        {
            return Read(key);
        }
    }

    /// <summary>Every key that has a reference file.</summary>
    public IReadOnlyList<string> Keys()
    {
        lock (_gate)
        {
            return Directory.Exists(_dir)
                ? [.. Directory.EnumerateFiles(_dir, "*.users").Select(f => Path.GetFileNameWithoutExtension(f))]
                : [];
        }
    }

    /// <summary>Forgets <paramref name="key"/> (after the object itself is gone).</summary>
    public void Forget(string key)
    {
        lock (_gate)
        {
            File.Delete(PathOf(key));
        }
    }

    private HashSet<string> Read(string key)
    {
        var path = PathOf(key);
        return File.Exists(path)
            ? JsonSerializer.Deserialize<HashSet<string>>(File.ReadAllText(path)) ?? []
            : new HashSet<string>(StringComparer.Ordinal);
    }

    private void Write(string key, HashSet<string> users)
    {
        Directory.CreateDirectory(_dir);
        var path = PathOf(key);
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(users.Order(StringComparer.Ordinal)));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    private string PathOf(string key) => Path.Combine(_dir, key + ".users");
}
