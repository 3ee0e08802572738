using System.Text.Json;

namespace Eas.Node.Agent.Storage;

/// <summary>What a cache entry holds, written to <c>&lt;entry&gt;/manifest.json</c> before its marker.</summary>
public sealed record CacheManifest
{
    /// <summary>The host path the entry was filled from.</summary>
    public required string Source { get; init; }

    /// <summary>The source's version when it was filled (part of the entry key).</summary>
    public required CacheSourceVersion Version { get; init; }

    /// <summary>For a file source, the file's name (the entry's path is data/&lt;name&gt;); "" for a directory.</summary>
    public string FileName { get; init; } = "";

    /// <summary>Regular files copied.</summary>
    public int Files { get; init; }

    /// <summary>Bytes copied (what the entry counts against the capacity).</summary>
    public long Bytes { get; init; }

    /// <summary>When the fill finished.</summary>
    public DateTimeOffset FilledAt { get; init; }

    /// <summary>How long the fill took.</summary>
    public double FillSeconds { get; init; }
}

/// <summary>
/// The marker <c>&lt;entry&gt;/complete</c>, written last. An entry without it is half filled and is redone.
/// The data is written through the page cache and flushed to disk in the background after the marker
/// (<see cref="Synced"/> false until then); an unsynced marker is only trusted in the boot that wrote it, so
/// a power loss before the flush makes the entry fill again instead of serving torn files.
/// </summary>
/// <param name="BootId">/proc/sys/kernel/random/boot_id when the marker was written.</param>
/// <param name="Synced">True once the data is on disk.</param>
public sealed record CacheMarker(string BootId, bool Synced)
{
    private static readonly Lazy<string> _currentBootId = new(() =>
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
        }
        catch (IOException)
        {
            return "";
        }
    });

    /// <summary>This boot's id.</summary>
    public static string CurrentBootId => _currentBootId.Value;

    /// <summary>Whether the entry's data can be served: synced, or written in this boot.</summary>
    public bool IsTrusted => Synced || (BootId.Length > 0 && BootId == CurrentBootId);
}

/// <summary>Reads and writes the small JSON files of an entry (written to a temporary file, then renamed).</summary>
internal static class CacheFiles
{
    private static readonly JsonSerializerOptions _json = new() { WriteIndented = true };

    public static T? Read<T>(string path)
        where T : class
    {
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize<T>(File.ReadAllText(path), _json) : null;
        }
        catch (JsonException)
        {
            return null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public static void Write<T>(string path, T value)
    {
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(value, _json));
        File.Move(path + ".tmp", path, overwrite: true);
    }
}
