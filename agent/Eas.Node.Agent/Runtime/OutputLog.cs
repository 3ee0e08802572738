namespace Eas.Node.Agent.Runtime;

/// <summary>
/// The instance output log: the one place that knows which conmon log driver is used and how to read
/// it back. Today conmon's k8s-file driver ("2024-01-01T00:00:00.000000000+00:00 stdout F text" lines).
/// </summary>
public static class OutputLog
{
    /// <summary>conmon arguments that send the container's output to <paramref name="path"/>.</summary>
    /// <remarks>conmon 2.1.6 refuses --log-tag with k8s-file (it is a journald option), so none is passed.</remarks>
    public static IEnumerable<string> ConmonArguments(string path) => ["--log-path", "k8s-file:" + path];

    /// <summary>The last <paramref name="lines"/> lines of output, partial lines joined, prefixes removed.</summary>
    public static async Task<IReadOnlyList<string>> TailAsync(string path, int lines, CancellationToken cancellationToken)
    {
        if (lines <= 0)
        {
            lines = 100;
        }

        if (!File.Exists(path))
        {
            return [];
        }

        // Read only the end of a large log: a generous 256 bytes per line.
        const int BytesPerLine = 256;
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var take = Math.Min(stream.Length, (long)lines * BytesPerLine + BytesPerLine);
        stream.Seek(-take, SeekOrigin.End);
        using var reader = new StreamReader(stream);
        var text = await reader.ReadToEndAsync(cancellationToken);
        var raw = text.Split('\n');
        var start = take < stream.Length ? 1 : 0;  // the first line may be cut in the middle
        var result = new List<string>();
        var partial = "";
        for (var i = start; i < raw.Length; i++)
        {
            if (raw[i].Length == 0)
            {
                continue;
            }

            var (complete, content) = Parse(raw[i]);
            partial += content;
            if (complete)
            {
                result.Add(partial);
                partial = "";
            }
        }

        if (partial.Length > 0)
        {
            result.Add(partial);
        }

        return result.TakeLast(lines).ToList();
    }

    /// <summary>Splits one k8s-file line into (is the line complete, its text).</summary>
    internal static (bool Complete, string Content) Parse(string line)
    {
        // <timestamp> <stream> <F|P> <content>
        var first = line.IndexOf(' ', StringComparison.Ordinal);
        var second = first < 0 ? -1 : line.IndexOf(' ', first + 1);
        if (second < 0 || second + 2 > line.Length)
        {
            return (true, line);
        }

        var tag = line[second + 1];
        var content = second + 3 <= line.Length ? line[Math.Min(line.Length, second + 3)..] : "";
        return (tag != 'P', content);
    }
}
