using System.Globalization;
using Eas.Node.Contracts.V1;
using Eas.Node.Testing;
using Grpc.Core;
using Grpc.Net.Client;

namespace Eas.Node.Functional.Tests.Infrastructure;

/// <summary>
/// A real cluster of several nodes on this machine: one eas-coordinator (gateway embedded) and N eas-agent
/// processes, each with its own node name, state directory, CNI bridge and subnet (what <c>make demo
/// AGENTS=N</c> does). Nodes can be killed, restarted and frozen to play node and agent loss. Disposing
/// deletes every service, stops the daemons and runs <c>eas-agent cleanup</c> for each node.
/// </summary>
public sealed class MultiNodeCluster : IAsyncDisposable
{
    private static readonly TimeSpan _registerTimeout = TimeSpan.FromSeconds(60);
    private readonly GrpcChannel _channel;
    private Daemon? _coordinator;

    private MultiNodeCluster(int nodes, int subnetSecondOctet, string coordinatorSettings)
    {
        var tag = (Environment.ProcessId % 10000).ToString(CultureInfo.InvariantCulture);
        Dir = Directory.CreateTempSubdirectory("eas-mn-").FullName;
        CoordinatorUrl = $"http://127.0.0.1:{TestPorts.Next()}";
        GatewayUrl = $"http://127.0.0.1:{TestPorts.Next()}";
        CoordinatorConfig = Path.Combine(Dir, "coordinator.json");
        File.WriteAllText(CoordinatorConfig, $$"""
            { "Coordinator": { "Listen": "{{CoordinatorUrl}}", "DataDir": "{{Path.Combine(Dir, "coordinator")}}", "EmbeddedGateway": true, "GatewayListen": "{{GatewayUrl}}", "MetricsListen": ""{{coordinatorSettings}} } }
            """);
        Nodes = [.. Enumerable.Range(1, nodes).Select(i => new Node(this, i, tag, subnetSecondOctet))];
        _channel = GrpcChannel.ForAddress(CoordinatorUrl);
        Services = new Services.ServicesClient(_channel);
    }

    public string Dir { get; }

    public string CoordinatorUrl { get; }

    public string GatewayUrl { get; }

    public string CoordinatorConfig { get; }

    public IReadOnlyList<Node> Nodes { get; }

    public Services.ServicesClient Services { get; }

    /// <summary>
    /// Starts the coordinator and <paramref name="nodes"/> agents and waits until every node is Ready.
    /// <paramref name="coordinatorSettings"/> adds settings to the coordinator's section, e.g. <c>, "NodeGraceSeconds": 5</c>.
    /// </summary>
    public static async Task<MultiNodeCluster> StartAsync(int nodes, int subnetSecondOctet, string coordinatorSettings = "")
    {
        var cluster = new MultiNodeCluster(nodes, subnetSecondOctet, coordinatorSettings);
        try
        {
            cluster.StartCoordinator();
            foreach (var node in cluster.Nodes)
            {
                await node.StartAsync();
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public void StartCoordinator() =>
        _coordinator = Daemon.Start("coordinator", Repo.Coordinator, Path.Combine(Dir, "coordinator.log"), "--config", CoordinatorConfig);

    /// <summary>kill -9 of the coordinator.</summary>
    public void KillCoordinator()
    {
        _coordinator?.Kill9();
        _coordinator?.Dispose();
        _coordinator = null;
    }

    public async Task<ServiceInfo> DescribeAsync(string name) => await Services.DescribeServiceAsync(new ServiceRef { Name = name });

    public async Task<NodeInfo> NodeInfoAsync(string name) =>
        (await Services.ListNodesAsync(new ListNodesRequest())).Nodes.Single(n => n.Name == name);

    public Task<ServiceInfo> WaitServiceAsync(string name, Func<ServiceInfo, bool> condition, TimeSpan timeout, string what)
    {
        ServiceInfo? last = null;
        return WaitForAsync(
            async () =>
            {
                last = await DescribeAsync(name);
                return condition(last) ? last : null;
            },
            timeout,
            what,
            () => last?.ToString() ?? "");
    }

    public Task<T> WaitForAsync<T>(Func<Task<T?>> read, TimeSpan timeout, string what, Func<string>? state = null)
        where T : class =>
        Poll.UntilAsync(read, timeout, what, () => _coordinator is { HasExited: true }, Logs, state);

    /// <summary>The tails of every daemon's log, for a failure message.</summary>
    public string Logs() =>
        $"--- coordinator ---\n{Tail(Path.Combine(Dir, "coordinator.log"))}\n" + string.Join('\n', Nodes.Select(n => $"--- {n.Name} ---\n{Tail(n.Log)}"));

    public async ValueTask DisposeAsync()
    {
        try
        {
            foreach (var node in Nodes)
            {
                node.Thaw();
                if (!node.Running)
                {
                    await node.StartAsync();
                }
            }

            if (_coordinator is null)
            {
                StartCoordinator();
            }

            var services = await Services.ListServicesAsync(new ListServicesRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
            foreach (var s in services.Services)
            {
                await Services.DeleteServiceAsync(new ServiceRef { Name = s.Name });
            }

            await WaitForAsync(
                async () => (await Services.ListServicesAsync(new ListServicesRequest())).Services.Count == 0 ? "" : null,
                TimeSpan.FromSeconds(60),
                "every service to be deleted");
        }
        catch (Exception e) when (e is RpcException or TimeoutException or InvalidOperationException)
        {
            // Cleanup below removes whatever is left.
        }

        _coordinator?.Dispose();
        foreach (var node in Nodes)
        {
            node.Stop();
            node.RunCleanup();
        }

        _channel.Dispose();
        Directory.Delete(Dir, recursive: true);
    }

    private static string Tail(string path, int lines = 30) =>
        File.Exists(path) ? string.Join('\n', File.ReadLines(path).TakeLast(lines)) : "(no log)";

    /// <summary>One node: an eas-agent with its own name, state directory, bridge and subnet.</summary>
    public sealed class Node
    {
        private readonly MultiNodeCluster _cluster;
        private readonly List<string> _frozen = [];
        private Daemon? _agent;

        internal Node(MultiNodeCluster cluster, int index, string tag, int subnetSecondOctet)
        {
            _cluster = cluster;
            Name = $"mn{index}-{tag}";
            Bridge = $"easmn{index}{tag}";
            var subnet = $"10.{subnetSecondOctet}.{((Environment.ProcessId % 60) * 4) + index}.0/24";
            StateDir = Path.Combine(cluster.Dir, Name);
            Config = Path.Combine(cluster.Dir, Name + ".json");
            Log = Path.Combine(cluster.Dir, Name + ".log");
            File.WriteAllText(Config, $$"""
                { "Agent": { "NodeName": "{{Name}}", "Coordinator": "{{cluster.CoordinatorUrl}}", "Address": "127.0.0.1", "StateDir": "{{StateDir}}",
                  "Bridge": "{{Bridge}}", "Subnet": "{{subnet}}", "MetricsListen": "", "InstanceLogs": "file", "Gpu": { "NvmlLibrary": "libnvidia-ml.so.1" } } }
                """);
        }

        public string Name { get; }

        public string Bridge { get; }

        public string StateDir { get; }

        public string Config { get; }

        public string Log { get; }

        public bool Running => _agent is { HasExited: false };

        public int AgentPid => _agent?.Pid ?? 0;

        public async Task StartAsync()
        {
            _agent = Daemon.Start(Name, Repo.Agent, Log, "--config", Config);
            await _cluster.WaitForAsync(
                async () => (await _cluster.Services.ListNodesAsync(new ListNodesRequest())).Nodes.Any(n => n.Name == Name && n.Status != "Down") ? "" : null,
                _registerTimeout,
                $"node {Name} to register");
        }

        /// <summary>SIGKILL of the agent: its instances keep running under conmon.</summary>
        public void KillAgent()
        {
            _agent?.Kill9();
            _agent?.Dispose();
            _agent = null;
        }

        /// <summary>SIGTERM of the agent (systemctl stop): its instances keep running under conmon.</summary>
        public void Stop()
        {
            _agent?.Dispose();
            _agent = null;
        }

        /// <summary>
        /// Makes the node silent: kill -9 of its agent and <c>runc pause</c> (cgroup freezer) of every container it
        /// runs, so nothing there answers — a machine that hangs, seen from the coordinator and the gateway.
        /// </summary>
        public async Task FreezeAsync()
        {
            KillAgent();
            foreach (var id in await RuncAsync("list", "-q"))
            {
                await RuncAsync("pause", id);
                _frozen.Add(id);
            }
        }

        /// <summary>Resumes what <see cref="FreezeAsync"/> paused (the agent stays down until started).</summary>
        public void Thaw()
        {
            foreach (var id in _frozen)
            {
                RuncAsync("resume", id).GetAwaiter().GetResult();
            }

            _frozen.Clear();
        }

        /// <summary>Runs <c>runc --root STATE/runc ARGS</c>; returns its output lines.</summary>
        public async Task<IReadOnlyList<string>> RuncAsync(params string[] args)
        {
            var info = new System.Diagnostics.ProcessStartInfo("runc") { RedirectStandardOutput = true, RedirectStandardError = true };
            info.ArgumentList.Add("--root");
            info.ArgumentList.Add(Path.Combine(StateDir, "runc"));
            foreach (var arg in args)
            {
                info.ArgumentList.Add(arg);
            }

            using var process = System.Diagnostics.Process.Start(info)!;
            var output = await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
        }

        /// <summary>What <c>make demo-stop</c> does for an agent: remove every instance, network and cgroup it made.</summary>
        public void RunCleanup()
        {
            using var cleanup = Daemon.Start("cleanup", Repo.Agent, Path.Combine(_cluster.Dir, Name + "-cleanup.log"), "cleanup", "--config", Config);
            for (var i = 0; i < 600 && !cleanup.HasExited; i++)
            {
                Thread.Sleep(100);
            }
        }
    }
}
