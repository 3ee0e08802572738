using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Eas.Node.Testing;

namespace Eas.Node.Agent.Tests.Support;

/// <summary>The ports the functional tests write into daemons' configs (tests/Shared/TestPorts.cs).</summary>
public sealed class TestPortsTests
{
    [Fact]
    public void Next_HandsOutDistinctListenablePorts_BelowTheEphemeralRange()
    {
        var fields = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        var ephemeralLow = int.Parse(fields[0], CultureInfo.InvariantCulture);

        var ports = Enumerable.Range(0, 50).Select(_ => TestPorts.Next()).ToList();

        ports.Should().OnlyHaveUniqueItems();
        ports.Should().OnlyContain(p => p >= 10_000 && p < ephemeralLow);
        foreach (var port in ports)
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
        }
    }

    [Fact]
    public void Next_SkipsAPortSomethingListensOn()
    {
        var first = TestPorts.Next();
        using var squatter = new TcpListener(IPAddress.Loopback, first + 1);
        squatter.Start();

        TestPorts.Next().Should().NotBe(first + 1);
    }
}
