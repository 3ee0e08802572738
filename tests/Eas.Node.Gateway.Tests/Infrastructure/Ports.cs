using System.Net;
using System.Net.Sockets;

namespace Eas.Node.Gateway.Tests.Infrastructure;

public static class Ports
{
    /// <summary>A loopback address where nothing listens: connecting to it is refused.</summary>
    public static string RefusingAddress()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"127.0.0.1:{port}";
    }
}
