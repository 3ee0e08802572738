using System.Diagnostics;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Runtime;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.Hosting;

namespace Eas.Node.Agent.Tests.Support;

/// <summary>
/// A private agent world for one test: its own state dir, bridge "eastest&lt;N&gt;" and subnet 10.234.&lt;N&gt;.0/24,
/// a config file, and on dispose the cleanup subcommand plus removal of the state dir.
/// </summary>
internal sealed class AgentTestEnvironment : IAsyncDisposable
{
    private static int _next = (Environment.ProcessId % 40) * 6;

    public AgentTestEnvironment()
    {
        var n = (Interlocked.Increment(ref _next) % 250) + 1;
        Bridge = $"eastest{n}";
        Subnet = $"10.234.{n}.0/24";
        StateDir = Directory.CreateTempSubdirectory($"eas-agent-test-{n}-").FullName;
        ConfigPath = Path.Combine(StateDir + ".json");
    }

    public string Bridge { get; }

    public string Subnet { get; }

    public string StateDir { get; }

    public string ConfigPath { get; }

    public string RuncRoot => Path.Combine(StateDir, "runc");

    /// <summary>Writes the config file and builds (does not start) the real agent host.</summary>
    public IHost BuildHost(string coordinator, string nodeName = "test-node")
    {
        File.WriteAllText(ConfigPath, $$"""
            {
              "Agent": {
                "NodeName": "{{nodeName}}",
                "Coordinator": "{{coordinator}}",
                "StateDir": "{{StateDir}}",
                "Bridge": "{{Bridge}}",
                "Subnet": "{{Subnet}}",
                "HeartbeatSeconds": 1,
                "MetricsListen": "http://127.0.0.1:0",
                "Labels": { "zone": "test" }
              }
            }
            """);
        var error = new StringWriter();
        var built = AgentHost.TryBuild(["--config", ConfigPath], error) ?? throw new InvalidOperationException(error.ToString());
        return built.Host;
    }

    // python3 -m http.server resolves its own FQDN at bind time; the instance network has no DNS (no masquerade),
    // so that lookup would stall start-up for 10 s. This server skips it.
    private const string HttpServerScript = """
        exec python3 -u -c '
        import http.server, socketserver, os
        class Server(http.server.ThreadingHTTPServer):
            def server_bind(self):
                socketserver.TCPServer.server_bind(self)
                self.server_name, self.server_port = "instance", self.server_address[1]
        Server(("0.0.0.0", int(os.environ["PORT"])), http.server.SimpleHTTPRequestHandler).serve_forever()
        '
        """;

    public static InstanceAssignment HttpServer(string instanceId, long memoryMib = 256, long shmMib = 128, params string[] requirements)
    {
        var spec = new InstanceSpec
        {
            Image = "host",
            Script = HttpServerScript,
            Port = 8000,
            MemoryMib = memoryMib,
            CpuMillis = 500,
            ShmMib = shmMib,
            TerminationGraceSeconds = 1,
            EnableSigterm = true,
        };
        spec.PythonRequirements.Add(requirements);
        spec.Env.Add("GREETING", "hello");
        return new InstanceAssignment { InstanceId = instanceId, Service = "fn_test", ServiceVersion = 1, Spec = spec };
    }

    public static async Task<InstanceStatus> WaitForAsync(StatusHub hub, string instanceId, Func<InstanceStatus, bool> condition, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        InstanceStatus? last = null;
        while (watch.Elapsed < timeout)
        {
            last = hub.Get(instanceId);
            if (last is not null && condition(last))
            {
                return last;
            }

            if (last?.State == InstanceState.Failed)
            {
                throw new InvalidOperationException($"instance {instanceId} failed: {last.Reason}");
            }

            await Task.Delay(25);
        }

        throw new TimeoutException($"instance {instanceId} did not reach the expected status in {timeout}; last: {last}");
    }

    /// <summary>runc exec in the instance's container; returns stdout.</summary>
    public async Task<string> ExecAsync(string instanceId, params string[] command)
    {
        var result = await new CommandRunner().RunAsync("/usr/sbin/runc", ["--root", RuncRoot, "exec", "eas-" + instanceId, .. command]);
        result.ExitCode.Should().Be(0, $"runc exec {string.Join(' ', command)} failed: {result.Stderr}");
        return result.Stdout;
    }

    /// <summary>Everything of these instances still on the host: containers, conmons, netns, cgroups, mounts, CNI allocations.</summary>
    public async Task<IReadOnlyList<string>> LeftoversAsync(params string[] instanceIds)
    {
        var found = new List<string>();
        if (Directory.Exists(RuncRoot))
        {
            var list = await new CommandRunner().RunAsync("/usr/sbin/runc", ["--root", RuncRoot, "list", "-q"]);
            found.AddRange(list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(c => "runc container " + c));
        }

        foreach (var proc in Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(proc, "cmdline")).Replace('\0', ' ');
                if (cmdline.Contains("conmon", StringComparison.Ordinal) && cmdline.Contains(StateDir, StringComparison.Ordinal))
                {
                    found.Add("conmon process " + Path.GetFileName(proc));
                }
            }
            catch (IOException)
            {
                // The process ended while being read.
            }
        }

        var cgroups = new CgroupLayout();
        foreach (var id in instanceIds)
        {
            if (File.Exists("/var/run/netns/eas-" + id))
            {
                found.Add("netns eas-" + id);
            }

            found.AddRange(cgroups.ExistingDirectories("eas-" + id).Select(d => "cgroup " + d));
        }

        found.AddRange(File.ReadLines("/proc/self/mountinfo").Where(l => l.Contains(StateDir, StringComparison.Ordinal)).Select(l => "mount " + l));
        var allocations = Path.Combine(StateDir, "cni", "eas-" + Bridge);
        if (Directory.Exists(allocations))
        {
            found.AddRange(Directory.EnumerateFiles(allocations)
                .Select(Path.GetFileName)
                .Where(f => f is not null && f != "lock" && !f.StartsWith("last_reserved_ip", StringComparison.Ordinal))
                .Select(f => "CNI allocation " + f));
        }

        return found;
    }

    public async ValueTask DisposeAsync()
    {
        // The cleanup subcommand is the safety net: it removes whatever a failed test left.
        if (File.Exists(ConfigPath))
        {
            await AgentHost.RunAsync(["cleanup", "--config", ConfigPath], TextWriter.Null);
            File.Delete(ConfigPath);
        }

        if (Directory.Exists("/sys/class/net/" + Bridge))
        {
            await new CommandRunner().RunAsync("ip", ["link", "delete", Bridge]);
        }

        if (Directory.Exists(StateDir))
        {
            Directory.Delete(StateDir, recursive: true);
        }
    }
}
