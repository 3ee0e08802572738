using System.Net.Sockets;
using Serilog.Core;
using Serilog.Debugging;
using Serilog.Events;

namespace Eas.Node.Logging;

/// <summary>
/// A Serilog sink that writes each event to journald through its native protocol: one datagram per entry to
/// <c>/run/systemd/journal/socket</c> (fields in <see cref="JournalFields"/>). An entry too large for one datagram
/// (EMSGSIZE or ENOBUFS, past about 200 KiB with default socket buffers) goes the way journald and libsystemd use
/// for those: written to a sealed memfd whose descriptor is passed with SCM_RIGHTS, so nothing is cut. An entry
/// journald cannot take (it is not running, or the memfd path fails too) is dropped and noted in Serilog's SelfLog:
/// logging never stops the daemon.
/// </summary>
public sealed class JournaldSink : ILogEventSink, IDisposable
{
    /// <summary>journald's native socket (fixed by systemd; libsystemd and conmon send to it too).</summary>
    public const string DefaultSocketPath = "/run/systemd/journal/socket";

    private readonly Socket _socket;
    private readonly UnixDomainSocketEndPoint _endpoint;
    private readonly string _path;
    private readonly string _identifier;

    /// <summary>A sink for the daemon <paramref name="syslogIdentifier"/> (eas-agent, eas-coordinator, eas-gateway).</summary>
    /// <param name="syslogIdentifier">SYSLOG_IDENTIFIER of every entry (what <c>journalctl -t</c> selects).</param>
    /// <param name="socketPath">journald's socket; tests point it at a socket they bound.</param>
    public JournaldSink(string syslogIdentifier, string socketPath = DefaultSocketPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(syslogIdentifier);
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        _identifier = syslogIdentifier;
        _path = socketPath;
        _endpoint = new UnixDomainSocketEndPoint(socketPath);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            // As libsystemd does: a larger send buffer lets larger entries go as one datagram (the kernel caps it at wmem_max).
            _socket.SendBufferSize = 8 * 1024 * 1024;
        }
        catch (SocketException)
        {
            // The default buffer works; only more entries take the memfd path.
        }
    }

    /// <inheritdoc/>
    public void Emit(LogEvent logEvent)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        var entry = JournalFields.ToEntry(logEvent, _identifier).Bytes.Span;
        try
        {
            _socket.SendTo(entry, SocketFlags.None, _endpoint);
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.MessageSize or SocketError.NoBufferSpaceAvailable && OperatingSystem.IsLinux())
        {
            var errno = Native.SendAsMemfd(_socket.SafeHandle, _path, entry);
            if (errno != 0)
            {
                SelfLog.WriteLine("journald: dropped an entry of {0} bytes: memfd path failed with errno {1}", entry.Length, errno);
            }
        }
        catch (SocketException ex)
        {
            SelfLog.WriteLine("journald: dropped an entry: {0} ({1}) sending to {2}", ex.SocketErrorCode, ex.Message, _path);
        }
        catch (ObjectDisposedException)
        {
            // Logged after the logger was closed.
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _socket.Dispose();
}
