using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Eas.Node.Testing;

/// <summary>
/// Loopback ports for the daemons and servers a test starts on a port it has to name in advance (in a config file, on a
/// command line). A port is handed out once per test process and comes from below the kernel's ephemeral range
/// (<c>net.ipv4.ip_local_port_range</c>), where no outgoing connection gets its local port: a port taken with
/// <c>bind(0)</c> and released is free game for the next <c>connect()</c> on the machine — the load a test drives, an
/// agent's reconnects — and once a CI run lost its coordinator that way ("address already in use", the test then waited
/// for a node that could not register). Each port is also checked to be bindable when it is handed out, which skips
/// one that a daemon outside the tests listens on.
/// </summary>
public static class TestPorts
{
    private const int RangeStart = 10_000;
    private static readonly Lock _lock = new();
    private static readonly (int First, int Count) _range = Range();
    private static int _offset = Environment.ProcessId % _range.Count;
    private static int _handedOut;

    /// <summary>A loopback port that nothing listens on and that no other call in this process gets.</summary>
    public static int Next()
    {
        lock (_lock)
        {
            while (_handedOut < _range.Count)
            {
                var port = _range.First + _offset;
                _offset = (_offset + 1) % _range.Count;
                _handedOut++;
                if (CanBind(port))
                {
                    return port;
                }
            }
        }

        throw new InvalidOperationException($"no free loopback port left in {_range.First}-{_range.First + _range.Count - 1}");
    }

    /// <summary>
    /// The ports from 10000 up to the ephemeral range, or those above it when that leaves fewer than 2000 (and if neither
    /// does, 10000-29999, which then overlaps it).
    /// </summary>
    private static (int First, int Count) Range()
    {
        var (low, high) = (32_768, 60_999);
        try
        {
            var fields = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            (low, high) = (int.Parse(fields[0], CultureInfo.InvariantCulture), int.Parse(fields[1], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            // Not Linux, or no procfs: take the kernel's default range.
        }

        return low - RangeStart >= 2_000 ? (RangeStart, low - RangeStart)
            : 65_535 - high >= 2_000 ? (high + 1, 65_535 - high)
            : (RangeStart, 20_000);
    }

    private static bool CanBind(int port)
    {
        // Without SO_REUSEADDR, as strict as the strictest listener: a port with connections in TIME_WAIT is skipped too.
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, false);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
