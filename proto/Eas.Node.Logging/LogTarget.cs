using Serilog;
using Serilog.Configuration;

namespace Eas.Node.Logging;

/// <summary>Where a daemon's log goes.</summary>
public enum LogTarget
{
    /// <summary>journald when the daemon runs under systemd with journald there, else the console.</summary>
    Auto,

    /// <summary>Plain text lines on stdout.</summary>
    Console,

    /// <summary>journald's native protocol, with priority and EAS_* fields.</summary>
    Journald,
}

/// <summary>The outcome of <see cref="LogTargets.Select(IReadOnlyList{string})"/>.</summary>
/// <param name="Target">Console or Journald (never Auto); Console when there is an error.</param>
/// <param name="Rest">The arguments without <c>--log</c>, for the daemon's own parser.</param>
/// <param name="Error">Why the request cannot be met (names the flag or variable, the rule and the fix), or null.</param>
/// <param name="Reason">Why this target, in words (for a startup line or a test).</param>
public sealed record LogSelection(LogTarget Target, string[] Rest, string? Error, string Reason);

/// <summary>
/// Chooses each daemon's log target. <c>--log journald|console|auto</c> on the command line wins, then the
/// <c>EAS_LOG</c> variable, then auto: journald when the daemon's stdout or stderr is journald's stream
/// (<c>JOURNAL_STREAM</c> names it, as systemd sets it for a unit's output), or when it runs under systemd
/// (<c>INVOCATION_ID</c>) and journald's socket exists; otherwise the console, as before.
/// </summary>
public static class LogTargets
{
    /// <summary>The command-line flag.</summary>
    public const string Flag = "--log";

    /// <summary>The environment variable read when the flag is absent.</summary>
    public const string EnvironmentVariable = "EAS_LOG";

    /// <summary>Reads the flag, the variable and the process's surroundings.</summary>
    public static LogSelection Select(IReadOnlyList<string> args) =>
        Select(args, Environment.GetEnvironmentVariable, File.Exists(JournaldSink.DefaultSocketPath), StdioInodes());

    /// <summary>The testable core of <see cref="Select(IReadOnlyList{string})"/>.</summary>
    /// <param name="args">The command line.</param>
    /// <param name="environment">Reads an environment variable.</param>
    /// <param name="journalSocketExists">Whether journald's socket exists.</param>
    /// <param name="stdioInodes">The inode numbers of stdout and stderr (0 when unknown).</param>
    public static LogSelection Select(IReadOnlyList<string> args, Func<string, string?> environment, bool journalSocketExists, IReadOnlyList<ulong> stdioInodes)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(stdioInodes);
        var rest = new List<string>(args.Count);
        string? flag = null;
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == Flag)
            {
                if (i + 1 >= args.Count)
                {
                    return new(LogTarget.Console, [.. args], $"{Flag}: needs a value; write {Flag} journald, {Flag} console or {Flag} auto", "");
                }

                flag = args[++i];
            }
            else if (args[i].StartsWith(Flag + "=", StringComparison.Ordinal))
            {
                flag = args[i][(Flag.Length + 1)..];
            }
            else
            {
                rest.Add(args[i]);
            }
        }

        string source;
        string? value;
        if (flag is not null)
        {
            (source, value) = ($"{Flag} {flag}", flag);
        }
        else
        {
            value = environment(EnvironmentVariable);
            source = $"{EnvironmentVariable}={value}";
        }

        LogTarget? parsed = value?.ToLowerInvariant() switch
        {
            null or "" or "auto" => LogTarget.Auto,
            "console" => LogTarget.Console,
            "journald" => LogTarget.Journald,
            _ => null,
        };
        if (parsed is not { } requested)
        {
            var fix = flag is not null ? $"write {Flag} journald, {Flag} console or {Flag} auto" : $"set {EnvironmentVariable} to journald, console or auto, or unset it";
            return new(LogTarget.Console, [.. rest], $"{source}: '{value}' is not a log target; {fix}", "");
        }

        switch (requested)
        {
            case LogTarget.Console:
                return new(LogTarget.Console, [.. rest], null, $"{source} asks for the console");
            case LogTarget.Journald when !journalSocketExists:
                return new(LogTarget.Console, [.. rest], $"{source}: journald's socket {JournaldSink.DefaultSocketPath} does not exist; start systemd-journald or log to the console ({Flag} console)", "");
            case LogTarget.Journald:
                return new(LogTarget.Journald, [.. rest], null, $"{source} asks for journald");
        }

        if (IsJournalStream(environment("JOURNAL_STREAM"), stdioInodes))
        {
            return new(LogTarget.Journald, [.. rest], null, "stdout/stderr is journald's stream (JOURNAL_STREAM)");
        }

        if (!string.IsNullOrEmpty(environment("INVOCATION_ID")) && journalSocketExists)
        {
            return new(LogTarget.Journald, [.. rest], null, "running under systemd (INVOCATION_ID) with journald's socket present");
        }

        return new(LogTarget.Console, [.. rest], null, "not under systemd with journald");
    }

    /// <summary>
    /// True when <paramref name="journalStream"/> (<c>device:inode</c>, as systemd sets JOURNAL_STREAM) names the
    /// stream stdout or stderr is connected to. An inherited variable whose stream is not ours does not count.
    /// </summary>
    public static bool IsJournalStream(string? journalStream, IReadOnlyList<ulong> stdioInodes)
    {
        ArgumentNullException.ThrowIfNull(stdioInodes);
        if (string.IsNullOrEmpty(journalStream))
        {
            return false;
        }

        var colon = journalStream.IndexOf(':', StringComparison.Ordinal);
        return colon > 0
            && ulong.TryParse(journalStream.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var inode)
            && inode != 0
            && stdioInodes.Contains(inode);
    }

    /// <summary>
    /// Adds the sink <paramref name="target"/> selects: <see cref="JournaldSink"/> with <paramref name="identifier"/>,
    /// or the console with <paramref name="consoleTemplate"/> (each daemon's existing format).
    /// </summary>
    public static LoggerConfiguration ConsoleOrJournald(this LoggerSinkConfiguration sinks, LogTarget target, string identifier, string consoleTemplate)
    {
        ArgumentNullException.ThrowIfNull(sinks);
        return target == LogTarget.Journald
            ? sinks.Sink(new JournaldSink(identifier))
            : sinks.Console(outputTemplate: consoleTemplate, formatProvider: System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The inodes of this process's stdout and stderr, from /proc/self/fd (<c>socket:[N]</c>, <c>pipe:[N]</c>).</summary>
    private static ulong[] StdioInodes()
    {
        if (!OperatingSystem.IsLinux())
        {
            return [];
        }

        var inodes = new List<ulong>(2);
        foreach (var fd in new[] { 1, 2 })
        {
            try
            {
                var target = new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
                var open = target?.IndexOf(":[", StringComparison.Ordinal) ?? -1;
                if (target is not null && open > 0 && target.EndsWith(']')
                    && ulong.TryParse(target.AsSpan(open + 2, target.Length - open - 3), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var inode))
                {
                    inodes.Add(inode);
                }
            }
            catch (IOException)
            {
                // No such descriptor: nothing to match.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return [.. inodes];
    }
}
