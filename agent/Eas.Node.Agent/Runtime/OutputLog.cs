using System.Globalization;
using System.Text;
using System.Text.Json;
using Eas.Node.Agent.Instances;

namespace Eas.Node.Agent.Runtime;

/// <summary>
/// The instance output log: the one place that knows which conmon log driver is used and how to read it back.
/// Either conmon's k8s-file driver (output.log in the instance's folder, "2024-01-01T00:00:00.000000000+00:00 stdout F
/// text" lines) or its journald driver (Agent:InstanceLogs): one journal entry per line with CONTAINER_NAME = the
/// instance id, CONTAINER_ID_FULL = the container id, SYSLOG_IDENTIFIER and CONTAINER_TAG = the service, PRIORITY 6
/// for stdout and 3 for stderr. Which one an instance's current run uses is recorded next to it
/// (<see cref="JournaldMarker"/>), so the agent reads the right place after a restart or a change of setting.
/// </summary>
public static class OutputLog
{
    /// <summary>The values of Agent:InstanceLogs.</summary>
    public static readonly IReadOnlyList<string> Modes = ["auto", "journald", "file"];

    /// <summary>The file in the instance's folder that says its output goes to journald.</summary>
    public const string JournaldMarker = "output.journald";

    /// <summary>conmon (through libsystemd) writes here, whatever the agent's own log target.</summary>
    public const string JournalSocket = "/run/systemd/journal/socket";

    /// <summary>conmon refuses the journald driver for a container id of 12 characters or fewer (it logs the first 12 as CONTAINER_ID).</summary>
    private const int ShortContainerId = 12;

    /// <summary>conmon arguments that send the container's output to <paramref name="path"/>.</summary>
    /// <remarks>conmon 2.1.6 refuses --log-tag with k8s-file (it is a journald option), so none is passed.</remarks>
    public static IEnumerable<string> ConmonArguments(string path) => ["--log-path", "k8s-file:" + path];

    /// <summary>
    /// Whether this run of the instance logs to journald: Agent:InstanceLogs <c>journald</c>, or <c>auto</c> while
    /// journald's socket exists; never for a container id conmon's journald driver refuses.
    /// </summary>
    public static bool UsesJournald(string mode, bool journalSocketExists, string containerId) =>
        containerId.Length > ShortContainerId
        && (string.Equals(mode, "journald", StringComparison.OrdinalIgnoreCase)
            || (string.Equals(mode, "auto", StringComparison.OrdinalIgnoreCase) && journalSocketExists));

    /// <summary>
    /// conmon arguments for this run of the instance, per Agent:InstanceLogs (<paramref name="mode"/>), and the record
    /// of the choice next to the instance for <see cref="TailAsync(InstanceContext, int, ICommandRunner, CancellationToken)"/>.
    /// </summary>
    public static IReadOnlyList<string> ConmonArguments(InstanceContext context, string mode, bool journalSocketExists)
    {
        var marker = Path.Combine(context.Dir, JournaldMarker);
        if (UsesJournald(mode, journalSocketExists, context.ContainerId))
        {
            File.WriteAllText(marker, context.ContainerId + "\n");
            return ["--log-path", "journald:", "--log-tag", context.Assignment.Service.Length > 0 ? context.Assignment.Service : context.InstanceId];
        }

        File.Delete(marker);
        return [.. ConmonArguments(context.OutputLogPath)];
    }

    /// <summary>The last <paramref name="lines"/> lines of the instance's output, from journald or the file, wherever its run writes.</summary>
    /// <exception cref="IOException">journalctl failed; the message carries its words.</exception>
    public static Task<IReadOnlyList<string>> TailAsync(InstanceContext context, int lines, ICommandRunner commands, CancellationToken cancellationToken) =>
        File.Exists(Path.Combine(context.Dir, JournaldMarker))
            ? TailJournalAsync(context.ContainerId, lines, commands, cancellationToken)
            : TailAsync(context.OutputLogPath, lines, cancellationToken);

    /// <summary>The last <paramref name="lines"/> lines conmon sent to journald for the container, partial lines joined.</summary>
    /// <exception cref="IOException">journalctl failed; the message carries its words.</exception>
    public static async Task<IReadOnlyList<string>> TailJournalAsync(string containerId, int lines, ICommandRunner commands, CancellationToken cancellationToken)
    {
        if (lines <= 0)
        {
            lines = 100;
        }

        // Twice the entries asked for: a line longer than conmon's buffer comes as several partial entries.
        var result = await commands.RunAsync("journalctl",
        [
            "--no-pager", "--quiet", "--all", "--output=json", "--output-fields=MESSAGE,CONTAINER_PARTIAL_MESSAGE",
            "--lines=" + (lines * 2).ToString(CultureInfo.InvariantCulture), "CONTAINER_ID_FULL=" + containerId,
        ], new CommandOptions { Timeout = TimeSpan.FromSeconds(20) }, cancellationToken);
        if (!result.Succeeded)
        {
            throw new IOException($"journalctl could not read the output of {containerId} (exit {result.ExitCode}): {result.Tail(3)}; check that systemd-journald runs and the agent may read the journal");
        }

        return ParseJournal(result.Stdout, lines);
    }

    /// <summary>journalctl's JSON lines to output lines: the trailing newline conmon keeps dropped, partial entries joined.</summary>
    internal static IReadOnlyList<string> ParseJournal(string json, int lines)
    {
        var result = new List<string>();
        var partial = new StringBuilder();
        foreach (var line in json.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var entry = JsonDocument.Parse(line);
            var root = entry.RootElement;
            var message = root.TryGetProperty("MESSAGE", out var m) ? Text(m) : "";
            var isPartial = root.TryGetProperty("CONTAINER_PARTIAL_MESSAGE", out var p) && Text(p) == "true";
            partial.Append(isPartial ? message : message.TrimEnd('\n'));
            if (!isPartial)
            {
                result.Add(partial.ToString());
                partial.Clear();
            }
        }

        if (partial.Length > 0)
        {
            result.Add(partial.ToString());
        }

        return result.TakeLast(lines).ToList();
    }

    /// <summary>A field of journalctl's JSON: a string, or an array of bytes for a value that is not printable UTF-8.</summary>
    private static string Text(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString() ?? "",
        JsonValueKind.Array => Encoding.UTF8.GetString(value.EnumerateArray().Where(b => b.ValueKind == JsonValueKind.Number).Select(b => (byte)b.GetInt32()).ToArray()),
        _ => "",
    };

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
