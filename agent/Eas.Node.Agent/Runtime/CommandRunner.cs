using System.Diagnostics;
using System.Text;

namespace Eas.Node.Agent.Runtime;

/// <summary>How to run one host command.</summary>
public sealed record CommandOptions
{
    /// <summary>Text written to the command's stdin (then closed); null leaves stdin empty.</summary>
    public string? Stdin { get; init; }

    /// <summary>Variables added to (or replacing) the agent's environment.</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    /// <summary>Kill the command after this long.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(1);
}

/// <summary>What a host command did.</summary>
/// <param name="ExitCode">Its exit code (-1 when killed for timing out).</param>
/// <param name="Stdout">Everything it wrote to stdout.</param>
/// <param name="Stderr">Everything it wrote to stderr.</param>
public sealed record CommandResult(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>True for exit code 0.</summary>
    public bool Succeeded => ExitCode == 0;

    /// <summary>The last <paramref name="lines"/> lines of stderr and stdout together, for error messages.</summary>
    public string Tail(int lines = 15)
    {
        var all = (Stdout + "\n" + Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return string.Join("\n", all.TakeLast(lines));
    }
}

/// <summary>Runs host commands (runc, conmon, ip, CNI plugins, pip); a seam so unit tests can record invocations.</summary>
public interface ICommandRunner
{
    /// <summary>Runs <paramref name="file"/> with <paramref name="arguments"/> and captures its output.</summary>
    Task<CommandResult> RunAsync(string file, IEnumerable<string> arguments, CommandOptions? options = null, CancellationToken cancellationToken = default);
}

/// <summary>The real <see cref="ICommandRunner"/> over <see cref="Process"/>.</summary>
public sealed class CommandRunner : ICommandRunner
{
    // conmon daemonizes: its parent exits while a child lives on; if that child kept our pipes, EOF would never
    // come. It points them at /dev/null, but never wait for output longer than this after the exit.
    private static readonly TimeSpan _drainLimit = TimeSpan.FromSeconds(2);

    /// <inheritdoc/>
    public async Task<CommandResult> RunAsync(string file, IEnumerable<string> arguments, CommandOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new CommandOptions();
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        if (options.Environment is not null)
        {
            foreach (var (key, value) in options.Environment)
            {
                start.Environment[key] = value;
            }
        }

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return new CommandResult(127, "", $"cannot run {file}: {ex.Message}");
        }

        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            if (options.Stdin is not null)
            {
                await process.StandardInput.WriteAsync(options.Stdin.AsMemory(), cancellationToken);
            }

            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The command exited without reading its stdin; its exit code says what happened.
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            cancellationToken.ThrowIfCancellationRequested();
            return new CommandResult(-1, await Drain(stdout), $"{file} timed out after {options.Timeout.TotalSeconds:0} s\n{await Drain(stderr)}");
        }

        return new CommandResult(process.ExitCode, await Drain(stdout), await Drain(stderr));
    }

    private static async Task<string> Drain(Task<string> read)
    {
        var finished = await Task.WhenAny(read, Task.Delay(_drainLimit));
        return finished == read ? await read : "";
    }
}
