using System.Diagnostics;
using System.Text;

namespace Eas.Node.Functional.Tests.Infrastructure;

/// <summary>A real daemon process (dotnet + a built assembly) whose output goes to a log file the test can show.</summary>
internal sealed class Daemon : IDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    private Daemon(string name, Process process, StreamWriter log)
    {
        Name = name;
        _process = process;
        _log = log;
    }

    public string Name { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public static Daemon Start(string name, string dll, string logPath, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);

        // The tests read the daemons' console output; a test runner under systemd must not switch them to journald
        // (a test that wants journald passes --log journald, which wins).
        info.Environment["EAS_LOG"] = "console";
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var log = new StreamWriter(logPath, append: true, Encoding.UTF8) { AutoFlush = true };
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new Daemon(name, process, log);
    }

    /// <summary>SIGKILL, as a crash or an OOM killer would.</summary>
    public void Kill9()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }
    }

    /// <summary>SIGTERM and wait, as systemd stops a unit; SIGKILL after the timeout.</summary>
    public void Stop(TimeSpan timeout)
    {
        if (_process.HasExited)
        {
            return;
        }

        _ = Native.Kill(_process.Id, Native.SigTerm);
        if (!_process.WaitForExit(timeout))
        {
            Kill9();
        }
    }

    public void Dispose()
    {
        Stop(TimeSpan.FromSeconds(10));
        _process.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            try
            {
                log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // The daemon outlived the test's interest in its output.
            }
        }
    }
}
