using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.Runtime;
using Eas.Node.Agent.State;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Eas.Node.Agent.Prepare;

/// <summary>
/// Virtual environments keyed by the SHA-256 of the sorted requirement list, built once per node:
/// <c>python -m venv --system-site-packages</c>, then <c>pip install -r</c>, then a marker written last.
/// A directory without the marker is a crashed build and is rebuilt.
/// </summary>
public sealed class PythonVenvs(IOptions<AgentOptions> options, AgentPaths paths, ICommandRunner commands, ILogger<PythonVenvs> logger)
{
    /// <summary>The file whose presence says the venv is complete.</summary>
    public const string Marker = ".eas-ready";

    private static readonly TimeSpan _pipTimeout = TimeSpan.FromMinutes(30);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _locks = new(StringComparer.Ordinal);
    private readonly AgentOptions _options = options.Value;

    /// <summary>The normalized requirement list: trimmed, comments and blanks dropped, sorted ordinally, duplicates removed.</summary>
    public static IReadOnlyList<string> Normalize(IEnumerable<string> requirements) => requirements
        .Select(r => r.Trim())
        .Where(r => r.Length > 0 && !r.StartsWith('#'))
        .Distinct(StringComparer.Ordinal)
        .Order(StringComparer.Ordinal)
        .ToList();

    /// <summary>The hex SHA-256 of the normalized list (one requirement per line): the venv's directory name.</summary>
    public static string Hash(IEnumerable<string> requirements)
        => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", Normalize(requirements)))));

    /// <summary>The ready venv for these requirements, building it if needed; concurrent callers share one build.</summary>
    /// <exception cref="InstanceFailedException">venv or pip failed; the message ends with pip's last lines.</exception>
    public async Task<string> EnsureAsync(IEnumerable<string> requirements, CancellationToken cancellationToken)
    {
        var list = Normalize(requirements);
        var hash = Hash(list);
        var dir = Path.Combine(paths.Venvs, hash);
        if (File.Exists(Path.Combine(dir, Marker)))
        {
            return dir;
        }

        var gate = _locks.GetOrAdd(hash, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            if (File.Exists(Path.Combine(dir, Marker)))
            {
                return dir;
            }

            if (Directory.Exists(dir))
            {
                PrepareLog.RebuildingVenv(logger, dir);
                Directory.Delete(dir, recursive: true);
            }

            Directory.CreateDirectory(paths.Venvs);
            PrepareLog.BuildingVenv(logger, dir, list.Count);
            var venv = await commands.RunAsync(_options.Python, ["-m", "venv", "--system-site-packages", dir], new CommandOptions { Timeout = TimeSpan.FromMinutes(5) }, cancellationToken);
            if (!venv.Succeeded)
            {
                Discard(dir);
                throw new InstanceFailedException($"creating the Python virtual environment failed: {venv.Tail()}");
            }

            var requirementsFile = Path.Combine(dir, "requirements.txt");
            await File.WriteAllLinesAsync(requirementsFile, list, cancellationToken);
            var pip = await commands.RunAsync(
                Path.Combine(dir, "bin", "pip"),
                ["install", "--no-input", "--disable-pip-version-check", .. _options.PipArgList, "-r", requirementsFile],
                new CommandOptions { Timeout = _pipTimeout },
                cancellationToken);
            if (!pip.Succeeded)
            {
                Discard(dir);
                throw new InstanceFailedException($"pip install failed: {pip.Tail()}");
            }

            await File.WriteAllTextAsync(Path.Combine(dir, Marker), string.Join("\n", list), cancellationToken);
            PrepareLog.VenvReady(logger, dir);
            return dir;
        }
        finally
        {
            gate.Release();
        }
    }

    private static void Discard(string dir)
    {
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
