using System.Globalization;
using System.Text;

namespace Eas.Node.Coordinator.Api;

/// <summary>
/// Reads a service's call records from the gateway's file sink: <c>&lt;directory&gt;/&lt;service&gt;.jsonl</c> (the newest)
/// and its rotations <c>.jsonl.1</c>, <c>.jsonl.2</c>, … (older as the number grows), one JSON object per line. Files are
/// read from the end, so the newest records of a large file cost no more than the records themselves. The gateway keeps
/// writing meanwhile: a last line without its newline is a record being written and is left out.
/// </summary>
public static class CallRecordFiles
{
    private const int ChunkBytes = 64 * 1024;

    /// <summary>The file the gateway writes now.</summary>
    public static string ActiveFile(string directory, string service) => Path.Combine(directory, service + ".jsonl");

    /// <summary>The active file (when it exists), then every rotation in order, newest first.</summary>
    public static IReadOnlyList<string> Files(string directory, string service)
    {
        if (!Directory.Exists(directory))
        {
            return [];
        }

        var active = ActiveFile(directory, service);
        var prefix = Path.GetFileName(active) + ".";
        // Matched by hand: a search pattern "x.jsonl.*" also matches "x.jsonl" itself.
        var rotations = Directory.EnumerateFiles(directory)
            .Where(path => Path.GetFileName(path).StartsWith(prefix, StringComparison.Ordinal))
            .Select(path => (Path: path, Suffix: Path.GetFileName(path)[prefix.Length..]))
            .Where(f => f.Suffix.Length is > 0 and <= 9 && f.Suffix.All(char.IsAsciiDigit))
            .Select(f => (f.Path, Index: int.Parse(f.Suffix, NumberStyles.None, CultureInfo.InvariantCulture)))
            .OrderBy(f => f.Index)
            .Select(f => f.Path)
            .ToList();
        if (File.Exists(active))
        {
            rotations.Insert(0, active);
        }

        return rotations;
    }

    /// <summary>The newest <paramref name="limit"/> records (raw JSON lines) over every file, oldest first.</summary>
    public static IReadOnlyList<string> ReadNewest(string directory, string service, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        var newestFirst = new List<string>();
        var active = ActiveFile(directory, service);
        foreach (var file in Files(directory, service))
        {
            if (newestFirst.Count >= limit)
            {
                break;
            }

            try
            {
                ReadBackwards(file, limit, newestFirst, dropUnterminated: file == active);
            }
            catch (FileNotFoundException)
            {
                // Rotated away between listing and opening: its records are in the next file.
            }
        }

        newestFirst.Reverse();
        return newestFirst;
    }

    /// <summary>Adds the lines of <paramref name="path"/> to <paramref name="newestFirst"/>, last line first, until it holds <paramref name="limit"/>.</summary>
    private static void ReadBackwards(string path, int limit, List<string> newestFirst, bool dropUnterminated)
    {
        // ReadWrite | Delete: the gateway keeps appending and may rename the file to rotate it while it is read.
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 1);
        var length = stream.Length;
        if (length == 0 || newestFirst.Count >= limit)
        {
            return;
        }

        stream.Position = length - 1;
        var terminated = stream.ReadByte() == '\n';

        // The exclusive end of the line being scanned; null while scanning a last line that is left out.
        long? lineEnd = terminated ? length - 1 : dropUnterminated ? null : length;
        var chunkEnd = terminated ? length - 1 : length;
        var buffer = new byte[ChunkBytes];
        while (chunkEnd > 0 && newestFirst.Count < limit)
        {
            var chunkStart = Math.Max(0, chunkEnd - ChunkBytes);
            var count = (int)(chunkEnd - chunkStart);
            stream.Position = chunkStart;
            stream.ReadExactly(buffer, 0, count);
            for (var i = count - 1; i >= 0 && newestFirst.Count < limit; i--)
            {
                if (buffer[i] != '\n')
                {
                    continue;
                }

                var newline = chunkStart + i;
                if (lineEnd is { } end)
                {
                    AddLine(stream, newline + 1, end, newestFirst);
                }

                lineEnd = newline;
            }

            chunkEnd = chunkStart;
        }

        if (chunkEnd == 0 && newestFirst.Count < limit && lineEnd is { } firstEnd)
        {
            AddLine(stream, 0, firstEnd, newestFirst);
        }
    }

    private static void AddLine(FileStream stream, long start, long end, List<string> newestFirst)
    {
        var count = (int)Math.Min(end - start, int.MaxValue);
        if (count <= 0)
        {
            return;
        }

        var bytes = new byte[count];
        stream.Position = start;
        stream.ReadExactly(bytes, 0, count);
        var line = Encoding.UTF8.GetString(bytes).TrimEnd('\r');
        if (!string.IsNullOrWhiteSpace(line))
        {
            newestFirst.Add(line);
        }
    }
}
