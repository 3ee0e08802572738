using System.Net;
using System.Net.Sockets;

namespace Eas.Node.Gateway.Tests.Infrastructure;

public static class Ports
{
    // Bound for the whole test run and never listening: a connection to it is refused, and no listener another test
    // starts can be given its port (a port only probed and released could be, and a test that expected "refused"
    // would then reach, say, an echo backend that answers 200).
    private static readonly Lazy<Socket> _refusing = new(() =>
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, false);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    });

    /// <summary>A loopback address where nothing listens, now or later in the run: connecting to it is refused.</summary>
    public static string RefusingAddress() => $"127.0.0.1:{((IPEndPoint)_refusing.Value.LocalEndPoint!).Port}";
}
