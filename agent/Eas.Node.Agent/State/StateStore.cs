using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Eas.Node.Agent.State;

/// <summary>Reads and writes the records in the state directory; every write is atomic (temp file + rename).</summary>
public sealed class StateStore(AgentPaths paths, ILogger<StateStore> logger)
{
    /// <summary>The paths this store uses.</summary>
    public AgentPaths Paths => paths;

    /// <summary>Creates the directories the agent shares between instances.</summary>
    public void EnsureLayout()
    {
        foreach (var dir in new[] { paths.Root, paths.Instances, paths.Exits, paths.Sockets, paths.RuncRoot, paths.Cni, paths.Venvs })
        {
            Directory.CreateDirectory(dir);
        }
    }

    /// <summary>Writes an instance record (creating its directory).</summary>
    public void Save(InstanceRecord record)
    {
        Directory.CreateDirectory(paths.InstanceDir(record.InstanceId));
        WriteAtomic(paths.RecordPath(record.InstanceId), record.ToJson());
    }

    /// <summary>All records; an unreadable one is logged and skipped (its directory is left for an operator).</summary>
    public IReadOnlyList<InstanceRecord> LoadAll()
    {
        var records = new List<InstanceRecord>();
        if (!Directory.Exists(paths.Instances))
        {
            return records;
        }

        foreach (var dir in Directory.EnumerateDirectories(paths.Instances))
        {
            var file = Path.Combine(dir, "instance.json");
            if (!File.Exists(file))
            {
                StateLog.RecordMissing(logger, dir);
                continue;
            }

            try
            {
                records.Add(InstanceRecord.FromJson(File.ReadAllBytes(file)));
            }
            catch (FormatException ex)
            {
                StateLog.RecordUnreadable(logger, file, ex.Message);
            }
        }

        return records;
    }

    /// <summary>
    /// The instance directories no runner owns (<paramref name="owned"/> says which ids have one): their records, to be
    /// finished off by a stopping runner. A directory without a record was never prepared (the record is the first
    /// thing written) and is removed here; one whose record cannot be read is left for an operator.
    /// </summary>
    public IReadOnlyList<InstanceRecord> Leftovers(Func<string, bool> owned)
    {
        var records = new List<InstanceRecord>();
        if (!Directory.Exists(paths.Instances))
        {
            return records;
        }

        foreach (var dir in Directory.EnumerateDirectories(paths.Instances))
        {
            var id = Path.GetFileName(dir);
            if (owned(id))
            {
                continue;
            }

            if (!File.Exists(paths.RecordPath(id)))
            {
                StateLog.LeftoverRemoved(logger, dir);
                Directory.Delete(dir, recursive: true);
            }
            else if (TryLoad(id) is { } record)
            {
                records.Add(record);
            }
        }

        return records;
    }

    /// <summary>The record of one instance; null when it has none or it cannot be read (logged).</summary>
    public InstanceRecord? TryLoad(string instanceId)
    {
        var file = paths.RecordPath(instanceId);
        try
        {
            return InstanceRecord.FromJson(File.ReadAllBytes(file));
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (FormatException ex)
        {
            StateLog.RecordUnreadable(logger, file, ex.Message);
            return null;
        }
    }

    /// <summary>Removes an instance's directory (record, bundle, log); idempotent.</summary>
    public void Delete(string instanceId)
    {
        var dir = paths.InstanceDir(instanceId);
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The highest (epoch, generation) applied, or (0, 0).</summary>
    public (long Epoch, long Generation) LoadApplied()
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(paths.NodeRecord));
            return (document.RootElement.GetProperty("appliedEpoch").GetInt64(), document.RootElement.GetProperty("appliedGeneration").GetInt64());
        }
        catch (Exception ex) when (ex is IOException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return (0, 0);
        }
    }

    /// <summary>Records the highest (epoch, generation) applied.</summary>
    public void SaveApplied(long epoch, long generation)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("appliedEpoch", epoch);
            writer.WriteNumber("appliedGeneration", generation);
            writer.WriteEndObject();
        }

        Directory.CreateDirectory(paths.Root);
        WriteAtomic(paths.NodeRecord, buffer.ToArray());
    }

    private static void WriteAtomic(string path, byte[] content)
    {
        var temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }
}
