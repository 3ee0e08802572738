using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Eas.Node.Contracts.V1;
using Eas.Node.Functional.Tests.Infrastructure;
using Eas.Node.Logging;
using Eas.Node.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using Serilog;

namespace Eas.Node.Functional.Tests;

/// <summary>
/// journald logging as an operator reads it: a real systemd-journald, the coordinator and an agent with
/// <c>--log journald</c> and <c>Agent:InstanceLogs=journald</c>, a service deployed; then <c>journalctl
/// EAS_SERVICE=…</c> finds both daemons' lines about it, the instance's output is found by the documented filter
/// (SYSLOG_IDENTIFIER = the service, CONTAINER_NAME = the instance), and <c>easctl logs</c> reads it back from journald.
/// </summary>
public sealed class JournaldTests
{
    private static readonly TimeSpan _registerTimeout = TimeSpan.FromSeconds(60);

    [JournaldFact]
    public async Task DaemonsAndInstance_LogToJournald_FoundByServiceAndInstance()
    {
        await using var journal = await TestJournald.StartAsync();
        var tag = (Environment.ProcessId % 10000).ToString(CultureInfo.InvariantCulture);
        var service = "jt_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
        var dir = Directory.CreateTempSubdirectory("eas-jt-").FullName;
        var coordinatorUrl = $"http://127.0.0.1:{TestPorts.Next()}";
        var coordinatorConfig = Path.Combine(dir, "coordinator.json");
        var agentConfig = Path.Combine(dir, "agent.json");
        var stateDir = Path.Combine(dir, "agent");
        await File.WriteAllTextAsync(coordinatorConfig, $$"""
            { "Coordinator": { "Listen": "{{coordinatorUrl}}", "DataDir": "{{Path.Combine(dir, "coordinator")}}", "EmbeddedGateway": true, "GatewayListen": "http://127.0.0.1:{{TestPorts.Next()}}",
              "MetricsListen": "" } }
            """);
        await File.WriteAllTextAsync(agentConfig, $$"""
            { "Agent": { "NodeName": "jt-node-{{tag}}", "Coordinator": "{{coordinatorUrl}}", "Address": "127.0.0.1", "StateDir": "{{stateDir}}",
              "Bridge": "easjt{{tag}}", "Subnet": "10.238.{{Environment.ProcessId % 250}}.0/24", "Gpu": { "NvmlLibrary": "libnvidia-ml.so.1" }, "MetricsListen": "" } }
            """);

        using var channel = GrpcChannel.ForAddress(coordinatorUrl);
        var api = new Services.ServicesClient(channel);
        Daemon? coordinator = null;
        Daemon? agent = null;
        try
        {
            coordinator = Daemon.Start("coordinator", Repo.Coordinator, Path.Combine(dir, "coordinator.log"), "--config", coordinatorConfig, "--log", "journald");
            agent = Daemon.Start("agent", Repo.Agent, Path.Combine(dir, "agent.log"), "--config", agentConfig, "--log", "journald", "--Agent:InstanceLogs=journald");
            await WaitAsync(async () => (await api.ListNodesAsync(new ListNodesRequest())).Nodes.Any(n => n.Name == $"jt-node-{tag}" && n.Status == "Ready"), _registerTimeout, "the agent to register", dir);

            var script = $"echo jt stdout line $EAS_INSTANCE_ID; echo jt stderr line >&2; exec python3 -u -m http.server $PORT";
            await api.CreateServiceAsync(new CreateServiceRequest
            {
                SpecJson = $$"""
                    { "metadata": { "name": "{{service}}", "instance": 1, "cpu": 0.2, "memory": 256, "rpc": { "enable_sigterm": true }, "eas": { "termination_grace_period": 2 } },
                      "containers": [ { "image": "host", "script": "{{script}}", "port": 8000 } ] }
                    """,
            });
            ServiceInfo? info = null;
            await WaitAsync(async () =>
            {
                info = await api.DescribeServiceAsync(new ServiceRef { Name = service });
                return info.Instances.Count(i => i.State == InstanceState.Ready) == 1;
            }, TimeSpan.FromMinutes(2), $"{service} to be Ready", dir);
            var instance = info!.Instances.Single().Id;

            // Both daemons' lines about the service, by the field alone.
            IReadOnlyList<Dictionary<string, string>> about = [];
            await WaitAsync(async () =>
            {
                about = await TestJournald.QueryAsync("EAS_SERVICE=" + service);
                return about.Any(e => e["SYSLOG_IDENTIFIER"] == "eas-agent" && e["MESSAGE"].Contains("is Ready", StringComparison.Ordinal))
                    && about.Any(e => e["SYSLOG_IDENTIFIER"] == "eas-coordinator" && e["MESSAGE"].StartsWith($"Service {service} created", StringComparison.Ordinal));
            }, TimeSpan.FromSeconds(15), "the daemons' lines in journald", dir);
            about.Should().OnlyContain(e => e["SYSLOG_IDENTIFIER"] == "eas-agent" || e["SYSLOG_IDENTIFIER"] == "eas-coordinator");
            var created = about.First(e => e["MESSAGE"].StartsWith($"Service {service} created", StringComparison.Ordinal));
            created["PRIORITY"].Should().Be("6");
            created["EAS_EVENT"].Should().NotBeNullOrEmpty();
            about.Should().Contain(e => e.ContainsKey("EAS_INSTANCE") && e["EAS_INSTANCE"] == instance && e.ContainsKey("EAS_NODE") && e["EAS_NODE"] == $"jt-node-{tag}",
                "the coordinator says where it scheduled the instance");
            (await TestJournald.QueryAsync("EAS_INSTANCE=" + instance)).Should().Contain(e => e["SYSLOG_IDENTIFIER"] == "eas-agent");

            // The instance's own output: conmon's journald driver, tagged with the service, named after the instance.
            IReadOnlyList<Dictionary<string, string>> output = [];
            await WaitAsync(async () =>
            {
                output = await TestJournald.QueryAsync("SYSLOG_IDENTIFIER=" + service);
                return output.Any(e => e["MESSAGE"].Contains("jt stderr line", StringComparison.Ordinal));
            }, TimeSpan.FromSeconds(15), "the instance's output in journald", dir);
            var stdoutLine = output.Single(e => e["MESSAGE"] == $"jt stdout line {instance}\n");
            stdoutLine["PRIORITY"].Should().Be("6");
            stdoutLine["CONTAINER_NAME"].Should().Be(instance);
            stdoutLine["CONTAINER_TAG"].Should().Be(service);
            output.Single(e => e["MESSAGE"] == "jt stderr line\n")["PRIORITY"].Should().Be("3", "stderr is an error");
            (await TestJournald.QueryAsync("CONTAINER_NAME=" + instance)).Should().Contain(e => e["MESSAGE"] == $"jt stdout line {instance}\n");

            // The recipe in docs/logging.md: the daemons' lines and the instance's output in one query.
            var both = await TestJournald.QueryAsync("EAS_SERVICE=" + service, "+", "SYSLOG_IDENTIFIER=" + service);
            both.Select(e => e["SYSLOG_IDENTIFIER"]).Distinct().Should().BeEquivalentTo("eas-agent", "eas-coordinator", service);

            // easctl logs reads the instance's output back from journald; no output.log was written.
            var (exit, logs, stderr) = await RunEasctlAsync(coordinatorUrl, "logs", service);
            exit.Should().Be(0, stderr);
            logs.Should().Contain($"jt stdout line {instance}").And.Contain("jt stderr line");
            File.Exists(Path.Combine(stateDir, "instances", instance, "output.log")).Should().BeFalse("the instance logs to journald");

            // journald mode writes nothing to stdout.
            (await File.ReadAllTextAsync(Path.Combine(dir, "coordinator.log"))).Should().NotContain("Coordinator listens on");
            (await File.ReadAllTextAsync(Path.Combine(dir, "agent.log"))).Should().NotContain("Registered with coordinator");

            await api.DeleteServiceAsync(new ServiceRef { Name = service });
            await WaitAsync(async () => (await api.ListServicesAsync(new ListServicesRequest())).Services.Count == 0, TimeSpan.FromSeconds(60), "the service to be deleted", dir);
        }
        finally
        {
            coordinator?.Dispose();
            agent?.Dispose();
            using (var cleanup = Daemon.Start("cleanup", Repo.Agent, Path.Combine(dir, "cleanup.log"), "cleanup", "--config", agentConfig))
            {
                for (var i = 0; i < 600 && !cleanup.HasExited; i++)
                {
                    Thread.Sleep(100);
                }
            }

            Directory.Delete(dir, recursive: true);
        }
    }

    [JournaldFact]
    public async Task EntryTooLargeForADatagram_ReachesJournald_Whole()
    {
        await using var journal = await TestJournald.StartAsync();
        var marker = "jt-big-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        // 9 MiB in MESSAGE and again in EAS_TEXT: more than any datagram can hold (at most twice the 8 MiB send buffer the sink asks for).
        var text = new string('x', 9 * 1024 * 1024);

        using (var logger = new LoggerConfiguration().WriteTo.Sink(new JournaldSink("eas-journald-test")).CreateLogger())
        {
            logger.Information("{Marker} {Text} end", marker, text);
        }

        IReadOnlyList<Dictionary<string, string>> entries = [];
        for (var i = 0; i < 100 && entries.Count == 0; i++)
        {
            await Task.Delay(100);
            entries = await TestJournald.QueryAsync("EAS_MARKER=" + marker);
        }

        entries.Should().ContainSingle("the 18 MiB entry went through a sealed memfd, which journald took");
        entries[0]["MESSAGE"].Should().Be($"{marker} {text} end");
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, string dir)
    {
        var deadline = DateTime.UtcNow + timeout;
        Exception? last = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (RpcException e)
            {
                last = e;
            }

            await Task.Delay(200);
        }

        var stdout = string.Join("\n", new[] { "coordinator.log", "agent.log" }.Select(f => Path.Combine(dir, f)).Where(File.Exists).Select(f => $"--- {f} ---\n{File.ReadAllText(f)}"));
        var journal = string.Join("\n", (await TestJournald.QueryAsync("SYSLOG_IDENTIFIER=eas-agent", "+", "SYSLOG_IDENTIFIER=eas-coordinator")).TakeLast(40).Select(e => $"{e["SYSLOG_IDENTIFIER"]}: {e["MESSAGE"]}"));
        throw new TimeoutException($"timed out after {timeout.TotalSeconds:0} s waiting for {what}. {last?.Message}\n{stdout}\n--- journal ---\n{journal}");
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunEasctlAsync(string coordinatorUrl, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Repo.Easctl);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        info.Environment["EAS_COORDINATOR"] = coordinatorUrl;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }
}
