using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Eas.Node.Logging.Systemd;

/// <summary>
/// sd_notify(3) without libsystemd: sends state lines (<c>READY=1</c>, <c>STOPPING=1</c>, <c>WATCHDOG=1</c>) as one
/// datagram to the socket in <c>NOTIFY_SOCKET</c> (a path, or an abstract name starting with '@'), and reads the
/// watchdog timeout from <c>WATCHDOG_USEC</c> (ignored when <c>WATCHDOG_PID</c> names another process).
/// </summary>
public sealed class SystemdNotifier : IDisposable
{
    /// <summary>The variables systemd passes to a Type=notify service, cleared from the process so its children do not inherit them.</summary>
    public static readonly IReadOnlyList<string> Variables = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

    private readonly Socket? _socket;
    private readonly UnixDomainSocketEndPoint? _endpoint;

    private SystemdNotifier(string? socketPath, TimeSpan? watchdogTimeout)
    {
        SocketPath = socketPath;
        WatchdogTimeout = watchdogTimeout;
        if (!string.IsNullOrEmpty(socketPath) && (socketPath[0] == '/' || socketPath[0] == '@'))
        {
            _endpoint = new UnixDomainSocketEndPoint(socketPath[0] == '@' ? "\0" + socketPath[1..] : socketPath);
            _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        }
    }

    /// <summary>Where notifications go; null when not started by a service manager that wants them.</summary>
    public string? SocketPath { get; }

    /// <summary>True when there is a socket to notify.</summary>
    public bool IsEnabled => _socket is not null;

    /// <summary>The service manager's watchdog timeout (WatchdogSec=), or null when it watches nothing.</summary>
    public TimeSpan? WatchdogTimeout { get; }

    /// <summary>
    /// The notifier for this process. <paramref name="unsetEnvironment"/> (the daemons pass true, as
    /// <c>sd_notify(1, …)</c> does) removes the variables, so that runc, conmon and the instances the agent starts
    /// do not see a NOTIFY_SOCKET meant for the daemon (runc would wait for the container to send READY=1).
    /// </summary>
    public static SystemdNotifier FromEnvironment(bool unsetEnvironment)
    {
        var notifier = FromVariables(Environment.GetEnvironmentVariable, Environment.ProcessId);
        if (unsetEnvironment)
        {
            foreach (var variable in Variables)
            {
                Environment.SetEnvironmentVariable(variable, null);
            }
        }

        return notifier;
    }

    /// <summary>The testable core of <see cref="FromEnvironment"/>.</summary>
    public static SystemdNotifier FromVariables(Func<string, string?> environment, int processId)
    {
        ArgumentNullException.ThrowIfNull(environment);
        TimeSpan? watchdog = null;
        var pid = environment("WATCHDOG_PID");
        var forUs = string.IsNullOrEmpty(pid) || (int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p == processId);
        if (forUs && ulong.TryParse(environment("WATCHDOG_USEC"), NumberStyles.None, CultureInfo.InvariantCulture, out var usec) && usec > 0)
        {
            watchdog = TimeSpan.FromMicroseconds(usec);
        }

        return new SystemdNotifier(environment("NOTIFY_SOCKET"), watchdog);
    }

    /// <summary>Sends <paramref name="state"/> (lines like <c>READY=1</c>); false when disabled or the send failed.</summary>
    public bool Notify(string state)
    {
        if (_socket is null || _endpoint is null)
        {
            return false;
        }

        try
        {
            _socket.SendTo(Encoding.UTF8.GetBytes(state), SocketFlags.None, _endpoint);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _socket?.Dispose();
}
