using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;

namespace Eas.Node.Functional.Tests.Infrastructure;

/// <summary>
/// A real systemd-journald for a test. Where one already listens on /run/systemd/journal/socket (a systemd host)
/// it is used as is. Otherwise one is started as a child process, in a private mount namespace whose
/// /etc/systemd/journald.conf is the test's (volatile storage in /run/log/journal, no kernel log, no audit, no
/// forwarding, no rate limit); its socket is the standard one, because conmon (through libsystemd) only writes
/// there. Disposing stops it and removes /run/systemd/journal and /run/log/journal when it created them.
/// </summary>
internal sealed class TestJournald : IAsyncDisposable
{
    public const string Socket = "/run/systemd/journal/socket";
    private const string Binary = "/lib/systemd/systemd-journald";
    private static readonly string[] _createdDirs = ["/run/systemd/journal", "/run/log/journal"];
    private readonly Process? _process;
    private readonly string? _dir;
    private readonly List<string> _toRemove;

    private TestJournald(Process? process, string? dir, List<string> toRemove)
    {
        _process = process;
        _dir = dir;
        _toRemove = toRemove;
    }

    /// <summary>True when the test started journald (false: the host's own one is used).</summary>
    public bool Owned => _process is not null;

    public static bool CanRun => Cluster.CanRun && File.Exists(Binary) && File.Exists("/usr/bin/journalctl") && File.Exists("/usr/bin/unshare");

    public static string WhyNot => Cluster.CanRun ? $"needs {Binary}, journalctl and unshare (apt-get install systemd util-linux)" : Cluster.WhyNot;

    public static async Task<TestJournald> StartAsync()
    {
        if (IsListening())
        {
            return new TestJournald(null, null, []);
        }

        var toRemove = _createdDirs.Where(d => !Directory.Exists(d)).ToList();
        var dir = Directory.CreateTempSubdirectory("eas-journald-").FullName;
        var config = Path.Combine(dir, "journald.conf");
        await File.WriteAllTextAsync(config, """
            [Journal]
            Storage=volatile
            RuntimeMaxUse=512M
            RuntimeMaxFileSize=128M
            ReadKMsg=no
            Audit=no
            ForwardToSyslog=no
            ForwardToKMsg=no
            ForwardToConsole=no
            ForwardToWall=no
            RateLimitBurst=0
            """);
        var info = new ProcessStartInfo("unshare") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--mount", "--propagation", "private", "sh", "-c", $"mount --bind '{config}' /etc/systemd/journald.conf && exec {Binary}" })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        var journald = new TestJournald(process, dir, toRemove);
        for (var i = 0; i < 100 && !IsListening(); i++)
        {
            if (process.HasExited)
            {
                var why = await process.StandardError.ReadToEndAsync();
                await journald.DisposeAsync();
                throw new InvalidOperationException($"systemd-journald exited with {process.ExitCode}: {why}");
            }

            await Task.Delay(50);
        }

        if (!IsListening())
        {
            await journald.DisposeAsync();
            throw new TimeoutException($"systemd-journald did not create {Socket} within 5 s");
        }

        return journald;
    }

    /// <summary>The entries matching <paramref name="matches"/> (journalctl's FIELD=value terms, '+' for OR), each as field → value.</summary>
    public static async Task<IReadOnlyList<Dictionary<string, string>>> QueryAsync(params string[] matches)
    {
        var info = new ProcessStartInfo("journalctl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--no-pager", "--quiet", "--all", "--output=json" }.Concat(matches))
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"journalctl {string.Join(' ', matches)} failed: {await stderr}");
        }

        var entries = new List<Dictionary<string, string>>();
        foreach (var line in (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var entry = JsonDocument.Parse(line);
            entries.Add(entry.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText()));
        }

        return entries;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            if (!_process.HasExited)
            {
                _ = Native.Kill(_process.Id, Native.SigTerm);
                if (!_process.WaitForExit(TimeSpan.FromSeconds(10)))
                {
                    _process.Kill();
                    await _process.WaitForExitAsync();
                }
            }

            _process.Dispose();
        }

        foreach (var dir in _toRemove.Where(Directory.Exists))
        {
            Directory.Delete(dir, recursive: true);
        }

        if (_dir is not null)
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    /// <summary>True when something receives on journald's socket (a datagram to a socket nobody reads is refused).</summary>
    private static bool IsListening()
    {
        if (!File.Exists(Socket))
        {
            return false;
        }

        try
        {
            using var probe = new System.Net.Sockets.Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            probe.Connect(new UnixDomainSocketEndPoint(Socket));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

/// <summary>A fact that needs a real cluster and systemd-journald; skipped with the reason where this host has neither.</summary>
public sealed class JournaldFactAttribute : FactAttribute
{
    public JournaldFactAttribute()
    {
        if (!TestJournald.CanRun)
        {
            Skip = TestJournald.WhyNot;
        }
    }
}
