using System.Diagnostics;
using Eas.Node.Agent.Tests.Support;
using Eas.Node.Contracts.V1;
using Eas.Node.Testing;
using Xunit.Abstractions;

namespace Eas.Node.Agent.Tests.Functional;

/// <summary>The real agent host against an in-process fake coordinator, with real containers.</summary>
[Collection(AgentFunctionalCollection.Name)]
public sealed class CoordinatorStreamTests(ITestOutputHelper output)
{
    private static readonly TimeSpan _wait = TimeSpan.FromSeconds(30);

    [RootFact]
    public async Task Agent_RegisterDeployRestartAgentCleanup_EndToEnd()
    {
        await using var coordinator = await FakeCoordinator.StartAsync();
        await using var env = new AgentTestEnvironment();

        var host = env.BuildHost(coordinator.Address);
        await host.StartAsync();
        try
        {
            // Register, then a full report, then heartbeats.
            var register = (await coordinator.NextAsync(m => m.Register is not null, _wait)).Register;
            register.NodeName.Should().Be("test-node");
            register.Address.Should().Be("127.0.0.1");
            register.Capacity.CpuMillis.Should().Be(Environment.ProcessorCount * 1000L);
            register.Capacity.MemoryMib.Should().BePositive();
            register.Labels.Should().Contain("zone", "test");
            register.Instances.Should().BeEmpty();
            (await coordinator.NextAsync(m => m.Status is not null, _wait)).Status.Full.Should().BeTrue();
            var heartbeat = await coordinator.NextAsync(m => m.Heartbeat is not null, TimeSpan.FromSeconds(5));
            heartbeat.Heartbeat.InstanceCount.Should().Be(0);

            // Two instances: create → both READY (the deploy-latency figure itself is bench/deploy/run.sh's).
            var watch = Stopwatch.StartNew();
            coordinator.Send(Desired(1, 1, AgentTestEnvironment.HttpServer("fc-a"), AgentTestEnvironment.HttpServer("fc-b")));
            var ready = new Dictionary<string, InstanceStatus>();
            while (ready.Count < 2)
            {
                var report = (await coordinator.NextAsync(m => m.Status is not null, _wait)).Status;
                foreach (var s in report.Instances.Where(s => s.State == InstanceState.Ready))
                {
                    ready[s.InstanceId] = s;
                }
            }

            var latency = watch.Elapsed;
            output.WriteLine($"create → 2 READY: {latency.TotalMilliseconds:0} ms");
            ready.Values.Select(s => s.Ip).Distinct().Should().HaveCount(2);

            // An older generation is ignored: nothing stops.
            coordinator.Send(Desired(1, 0));
            await Task.Delay(500);
            coordinator.All.Where(m => m.Status is not null).SelectMany(m => m.Status.Instances).Should().NotContain(s => s.State == InstanceState.Terminating);

            // Logs.
            using (var http = new HttpClient())
            {
                (await http.GetAsync(new Uri($"http://{ready["fc-a"].Ip}:8000/hello-log"))).StatusCode.Should().Be(System.Net.HttpStatusCode.NotFound);
            }

            coordinator.Send(new CoordinatorMessage { Logs = new LogRequest { RequestId = "r1", InstanceId = "fc-a", TailLines = 20 } });
            var logs = (await coordinator.NextAsync(m => m.Logs is not null, _wait)).Logs;
            logs.RequestId.Should().Be("r1");
            logs.Error.Should().BeEmpty();
            logs.Lines.Should().Contain(l => l.Contains("GET /hello-log", StringComparison.Ordinal));
            coordinator.Send(new CoordinatorMessage { Logs = new LogRequest { RequestId = "r2", InstanceId = "nope", TailLines = 5 } });
            (await coordinator.NextAsync(m => m.Logs is not null, _wait)).Logs.Error.Should().Contain("nope");

            // Agent restart: instances keep running and are re-attached, not started again.
            var pidsBefore = await ContainerPidsAsync(env, "fc-a", "fc-b");
            await host.StopAsync();
            host.Dispose();
            (await ContainerPidsAsync(env, "fc-a", "fc-b")).Should().Equal(pidsBefore);

            host = env.BuildHost(coordinator.Address);
            await host.StartAsync();
            var again = (await coordinator.NextAsync(m => m.Register is not null, _wait)).Register;
            again.Instances.Select(s => s.InstanceId).Should().BeEquivalentTo("fc-a", "fc-b");
            again.AppliedGeneration.Should().Be(1);
            await WaitUntilAsync(() => coordinator.All.Where(m => m.Status is not null).SelectMany(m => m.Status.Instances)
                .Count(s => s.State == InstanceState.Ready) >= 4);
            (await ContainerPidsAsync(env, "fc-a", "fc-b")).Should().Equal(pidsBefore);
            coordinator.Connections.Should().Be(2);

            // Restart in place when the nonce grows.
            var restarted = AgentTestEnvironment.HttpServer("fc-a");
            restarted.RestartNonce = 1;
            coordinator.Send(Desired(1, 2, restarted, AgentTestEnvironment.HttpServer("fc-b")));
            await coordinator.NextAsync(m => m.Status?.Instances.Any(s => s.InstanceId == "fc-a" && s.RestartNonce == 1 && s.State == InstanceState.Ready) == true, _wait);
            (await ContainerPidsAsync(env, "fc-a"))[0].Should().NotBe(pidsBefore[0]);

            // Stop the agent and run the cleanup subcommand: nothing is left.
            await host.StopAsync();
            host.Dispose();
            (await AgentHost.RunAsync(["cleanup", "--config", env.ConfigPath], TextWriter.Null)).Should().Be(0);
            (await env.LeftoversAsync("fc-a", "fc-b")).Should().BeEmpty();
            Directory.Exists("/sys/class/net/" + env.Bridge).Should().BeFalse();
        }
        finally
        {
            await host.StopAsync();
            host.Dispose();
        }
    }

    [RootFact]
    public async Task Agent_CoordinatorAway_KeepsRetryingThenRegisters()
    {
        await using var env = new AgentTestEnvironment();
        // A port nothing listens on yet: the agent starts against it, the fake coordinator comes up there later.
        var port = TestPorts.Next();
        using var host = env.BuildHost($"http://127.0.0.1:{port}");
        await host.StartAsync();
        try
        {
            await Task.Delay(1500);
            await using var coordinator = await FakeCoordinatorOnPort(port);
            var register = await coordinator.NextAsync(m => m.Register is not null, _wait);
            register.Register.NodeName.Should().Be("test-node");
        }
        finally
        {
            await host.StopAsync();
        }
    }

    private static Task<FakeCoordinator> FakeCoordinatorOnPort(int port) => FakeCoordinator.StartAsync(port);

    private static CoordinatorMessage Desired(long epoch, long generation, params InstanceAssignment[] instances)
    {
        var desired = new DesiredInstances { Epoch = epoch, Generation = generation };
        desired.Instances.Add(instances);
        return new CoordinatorMessage { Desired = desired };
    }

    private static async Task<int[]> ContainerPidsAsync(AgentTestEnvironment env, params string[] ids)
    {
        var pids = new List<int>();
        foreach (var id in ids)
        {
            var state = await new Eas.Node.Agent.Runtime.CommandRunner().RunAsync("/usr/sbin/runc", ["--root", env.RuncRoot, "state", "eas-" + id]);
            using var doc = System.Text.Json.JsonDocument.Parse(state.Stdout);
            doc.RootElement.GetProperty("status").GetString().Should().Be("running");
            pids.Add(doc.RootElement.GetProperty("pid").GetInt32());
        }

        return [.. pids];
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < _wait)
        {
            if (condition())
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("condition not met");
    }
}
