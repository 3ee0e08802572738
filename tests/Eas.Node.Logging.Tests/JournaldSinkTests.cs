using System.Buffers.Binary;
using System.Text;
using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Events;
using Serilog.Extensions.Logging;

namespace Eas.Node.Logging.Tests;

/// <summary>The sink's datagrams as journald reads them, received on a socket the test binds.</summary>
public sealed partial class JournaldSinkTests : IDisposable
{
    private static readonly TimeSpan _wait = TimeSpan.FromSeconds(5);
    private readonly DatagramListener _journal = new();
    private readonly Serilog.Core.Logger _serilog;
    private readonly SerilogLoggerFactory _factory;

    public JournaldSinkTests()
    {
        _serilog = new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(new JournaldSink("eas-test", _journal.Path)).CreateLogger();
        _factory = new SerilogLoggerFactory(_serilog);
    }

    [Fact]
    public void LoggerMessage_AboutAnInstanceOnANode_CarriesMessagePriorityIdentifierAndEasFields()
    {
        Scheduled(_factory.CreateLogger("Eas.Node.Coordinator.Reconciler"), "flask_demo", "flask_demo-0a1b2c3d", "gpu-7");

        var fields = Fields(_journal.Receive(_wait).Payload);
        fields["MESSAGE"].Should().Be("Service flask_demo: instance flask_demo-0a1b2c3d scheduled on node gpu-7", "strings render unquoted, as on the console");
        fields["PRIORITY"].Should().Be("6");
        fields["SYSLOG_IDENTIFIER"].Should().Be("eas-test");
        fields["EAS_SERVICE"].Should().Be("flask_demo");
        fields["EAS_INSTANCE"].Should().Be("flask_demo-0a1b2c3d");
        fields["EAS_NODE"].Should().Be("gpu-7");
        fields["EAS_EVENT"].Should().Be("Scheduled", "the [LoggerMessage] method names the event");
        fields["EAS_SOURCE_CONTEXT"].Should().Be("Eas.Node.Coordinator.Reconciler");
    }

    [Fact]
    public void LoggerMessage_NamingOnlyTheInstance_GetsTheServiceFromTheInstanceId()
    {
        Reattached(_factory.CreateLogger("agent"), "flask_demo-0a1b2c3d");

        var fields = Fields(_journal.Receive(_wait).Payload);
        fields["MESSAGE"].Should().Be("Re-attached to running instance flask_demo-0a1b2c3d");
        fields["EAS_INSTANCE"].Should().Be("flask_demo-0a1b2c3d");
        fields["EAS_SERVICE"].Should().Be("flask_demo");
        fields["EAS_EVENT"].Should().Be("Reattached");
    }

    [Fact]
    public void LoggerMessage_NamingTheContainer_GetsTheInstanceAndService()
    {
        StartedContainer(_factory.CreateLogger("agent"), "eas-my_svc-deadbeef", 4242);

        var fields = Fields(_journal.Receive(_wait).Payload);
        fields["EAS_CONTAINER_ID"].Should().Be("eas-my_svc-deadbeef");
        fields["EAS_INSTANCE"].Should().Be("my_svc-deadbeef");
        fields["EAS_SERVICE"].Should().Be("my_svc");
        fields["EAS_PID"].Should().Be("4242", "any other property becomes EAS_ + its name in upper snake case");
    }

    [Fact]
    public void InstanceIdNotMadeByTheCoordinator_GetsNoService()
    {
        Reattached(_factory.CreateLogger("agent"), "fn-crash");

        var fields = Fields(_journal.Receive(_wait).Payload);
        fields["EAS_INSTANCE"].Should().Be("fn-crash");
        fields.Should().NotContainKey("EAS_SERVICE");
    }

    [Theory]
    [InlineData(LogEventLevel.Fatal, "2")]
    [InlineData(LogEventLevel.Error, "3")]
    [InlineData(LogEventLevel.Warning, "4")]
    [InlineData(LogEventLevel.Information, "6")]
    [InlineData(LogEventLevel.Debug, "7")]
    [InlineData(LogEventLevel.Verbose, "7")]
    public void Level_MapsToSyslogPriority(LogEventLevel level, string priority)
    {
        _serilog.Write(level, "at {Level}", level);

        Fields(_journal.Receive(_wait).Payload)["PRIORITY"].Should().Be(priority);
    }

    [Fact]
    public void Exception_FollowsTheMessage_InTheBinarySafeForm()
    {
        InvalidOperationException thrown;
        try
        {
            throw new InvalidOperationException("the store is gone");
        }
        catch (InvalidOperationException ex)
        {
            thrown = ex;
        }

        _serilog.Error(thrown, "Reconcile of {Service} failed", "flask_demo");

        var payload = _journal.Receive(_wait).Payload;
        var message = "Reconcile of flask_demo failed\n" + thrown;
        var bytes = Encoding.UTF8.GetBytes(message);
        var expected = new byte[8 + 8 + bytes.Length + 1];
        Encoding.ASCII.GetBytes("MESSAGE\n").CopyTo(expected, 0);
        BinaryPrimitives.WriteUInt64LittleEndian(expected.AsSpan(8), (ulong)bytes.Length);
        bytes.CopyTo(expected, 16);
        expected[^1] = (byte)'\n';
        payload.AsSpan(0, expected.Length).SequenceEqual(expected).Should().BeTrue("MESSAGE holds a newline, so it goes as name, newline, 64-bit LE length, value, newline");

        var fields = Fields(payload);
        fields["MESSAGE"].Should().Contain("System.InvalidOperationException: the store is gone").And.Contain("at Eas.Node.Logging.Tests");
        fields["EAS_EXCEPTION_TYPE"].Should().Be("System.InvalidOperationException");
        fields["PRIORITY"].Should().Be("3");
        fields["EAS_SERVICE"].Should().Be("flask_demo");
    }

    [Fact]
    public void NonAsciiAndNewlinesInAProperty_RoundTrip()
    {
        _serilog.Information("probe said {Output}", "línea uno\nline two");

        var fields = Fields(_journal.Receive(_wait).Payload);
        fields["MESSAGE"].Should().Be("probe said línea uno\nline two");
        fields["EAS_OUTPUT"].Should().Be("línea uno\nline two");
    }

    [Fact]
    public void EntryTooLargeForADatagram_GoesAsASealedMemfd_Whole()
    {
        // Larger than any send buffer the sink can get (it asks for 8 MiB, which the kernel doubles where wmem_max allows).
        var big = new string('x', 17 * 1024 * 1024) + "END";

        _serilog.Warning("big {Service} output: {Text}", "flask_demo", big);

        var datagram = _journal.Receive(_wait);
        datagram.Payload.Should().BeEmpty("the entry travels in the passed file");
        datagram.PassedFile.Should().NotBeNull();
        datagram.PassedFileSeals.Should().Be(0xF, "journald takes only a memfd sealed against writes, growth, shrinking and new seals");
        var fields = Fields(datagram.PassedFile!);
        fields["MESSAGE"].Should().Be("big flask_demo output: " + big);
        fields["EAS_SERVICE"].Should().Be("flask_demo");
        fields["PRIORITY"].Should().Be("4");
    }

    [Fact]
    public void JournaldAbsent_EmitDoesNotThrow()
    {
        using var sink = new JournaldSink("eas-test", Path.Combine(Path.GetTempPath(), "no-such-dir-" + Guid.NewGuid(), "socket"));
        using var logger = new LoggerConfiguration().WriteTo.Sink(sink).CreateLogger();

        var write = () => logger.Information("nobody listens");

        write.Should().NotThrow();
    }

    public void Dispose()
    {
        _factory.Dispose();
        _serilog.Dispose();
        _journal.Dispose();
    }

    private static Dictionary<string, string> Fields(byte[] payload)
    {
        var fields = JournalEntry.Parse(payload);
        fields.Select(f => f.Key).Should().OnlyHaveUniqueItems();
        return fields.ToDictionary(f => f.Key, f => f.Value);
    }

    [LoggerMessage(3001, LogLevel.Information, "Service {Service}: instance {Instance} scheduled on node {Node}")]
    private static partial void Scheduled(Microsoft.Extensions.Logging.ILogger logger, string service, string instance, string node);

    [LoggerMessage(2001, LogLevel.Information, "Re-attached to running instance {InstanceId}")]
    private static partial void Reattached(Microsoft.Extensions.Logging.ILogger logger, string instanceId);

    [LoggerMessage(2002, LogLevel.Information, "Started container {ContainerId}: pid {Pid}")]
    private static partial void StartedContainer(Microsoft.Extensions.Logging.ILogger logger, string containerId, int pid);
}
