using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Nodes;

namespace Eas.Node.Coordinator.Tests.Nodes;

/// <summary>Probes and crash block as the agent receives them.</summary>
public sealed class InstanceSpecBuilderProbeTests
{
    [Fact]
    public void Build_Probes_EveryNumberSet_PortResolvedToTheContainersWhenNotGiven()
    {
        var parsed = Eas.Node.Spec.SpecParser.Parse("""
            { "metadata": { "name": "demo" },
              "containers": [{ "image": "host", "script": "python3 app.py", "port": 8000,
                "startup_check": { "exec": { "command": ["cat", "/tmp/loaded"] }, "failure_threshold": 30 },
                "health_check": { "http_get": { "path": "/health", "scheme": "https" }, "period_seconds": 2, "success_threshold": 2 },
                "liveness_check": { "tcp_socket": { "port": 9000 }, "initial_delay_seconds": 5, "timeout_seconds": 3 } }],
              "runtime": { "enable_crash_block": true } }
            """);
        parsed.Errors.Should().BeEmpty();

        var built = InstanceSpecBuilder.Build(parsed.Spec!);

        built.StartupCheck.Should().Be(new Probe
        {
            Exec = new ExecCheck { Command = { "cat", "/tmp/loaded" } },
            InitialDelaySeconds = 0,
            PeriodSeconds = 10,
            TimeoutSeconds = 1,
            FailureThreshold = 30,
            SuccessThreshold = 1,
        });
        built.ReadinessCheck.Should().Be(new Probe
        {
            HttpGet = new HttpGetCheck { Path = "/health", Port = 8000, Scheme = "HTTPS" },
            PeriodSeconds = 2,
            TimeoutSeconds = 1,
            FailureThreshold = 3,
            SuccessThreshold = 2,
        });
        built.LivenessCheck.Should().Be(new Probe
        {
            TcpSocket = new TcpSocketCheck { Port = 9000 },
            InitialDelaySeconds = 5,
            PeriodSeconds = 10,
            TimeoutSeconds = 3,
            FailureThreshold = 3,
            SuccessThreshold = 1,
        });
        built.CrashBlock.Should().BeTrue();
    }

    [Fact]
    public void Build_NoProbes_LeavesThemUnset()
    {
        var parsed = Eas.Node.Spec.SpecParser.Parse("""
            { "metadata": { "name": "demo" }, "containers": [{ "image": "host", "script": "python3 app.py", "port": 8000 }] }
            """);

        var built = InstanceSpecBuilder.Build(parsed.Spec!);

        built.StartupCheck.Should().BeNull();
        built.ReadinessCheck.Should().BeNull("the agent's default is a TCP check on the port");
        built.LivenessCheck.Should().BeNull();
        built.CrashBlock.Should().BeFalse();
    }
}
