using System.Globalization;
using Eas.Node.Contracts.V1;
using Eas.Node.Testing;
using Grpc.Core;
using Grpc.Net.Client;

namespace Eas.Node.Functional.Tests.Infrastructure;

/// <summary>
/// A real one-node cluster on loopback: eas-coordinator (gateway embedded) and one eas-agent as separate
/// processes, state in a temp folder, its own CNI bridge and subnet. Disposing it deletes every service,
/// stops the daemons and runs <c>eas-agent cleanup</c>, so the host is left as it was.
/// </summary>
public class Cluster : IAsyncLifetime
{
    private static readonly TimeSpan _registerTimeout = TimeSpan.FromSeconds(60);
    private Daemon? _coordinator;
    private Daemon? _agent;
    private GrpcChannel? _channel;

    public Cluster()
        : this("", 236, null)
    {
    }

    /// <summary>A cluster whose agent has fake GPUs (<paramref name="fakeGpus"/>, e.g. 2xH100-80GB) when given.</summary>
    protected Cluster(string suffix, int subnetSecondOctet, string? fakeGpus)
    {
        if (CanRun && fakeGpus is not null && !File.Exists(Repo.FakeNvmlLibrary))
        {
            throw new InvalidOperationException($"{Repo.FakeNvmlLibrary} is not built: run `make fake-nvml` (`make build` and `make test` do)");
        }

        var tag = (Environment.ProcessId % 10000).ToString(CultureInfo.InvariantCulture) + suffix;
        Dir = Directory.CreateTempSubdirectory("eas-ft-").FullName;
        CoordinatorUrl = $"http://127.0.0.1:{TestPorts.Next()}";
        GatewayUrl = $"http://127.0.0.1:{TestPorts.Next()}";
        CoordinatorMetricsUrl = $"http://127.0.0.1:{TestPorts.Next()}";
        AgentMetricsUrl = $"http://127.0.0.1:{TestPorts.Next()}";
        Bridge = "easft" + tag;
        Subnet = $"10.{subnetSecondOctet}.{Environment.ProcessId % 250}.0/24";
        NodeName = "ft-node-" + tag;
        FakeGpus = fakeGpus;
        FakeNvmlState = Path.Combine(Dir, "fake-nvml");
        AgentStateDir = Path.Combine(Dir, "agent");
        CoordinatorConfig = Path.Combine(Dir, "coordinator.json");
        AgentConfig = Path.Combine(Dir, "agent.json");
    }

    public static bool CanRun => OperatingSystem.IsLinux() && Native.GetEuid() == 0 && File.Exists("/usr/sbin/runc") && File.Exists("/usr/bin/conmon");

    public static string WhyNot => "needs Linux, root, runc and conmon (make deps installs them; run the tests as root)";

    public string Dir { get; }

    /// <summary>The fake NVML profile of the agent, or null for a node without GPUs (and without NVML).</summary>
    public string? FakeGpus { get; }

    /// <summary>The agent's Agent:Storage:SecretsFile (credentials of the test S3 server).</summary>
    public string StorageSecretsFile => Path.Combine(Dir, "storage-secrets.json");

    /// <summary>The fake NVML's state directory (what <c>fake-nvml --state</c> drives).</summary>
    public string FakeNvmlState { get; }

    public string CoordinatorUrl { get; }

    public string GatewayUrl { get; }

    /// <summary>Coordinator:MetricsListen (the coordinator's and the embedded gateway's /metrics).</summary>
    public string CoordinatorMetricsUrl { get; }

    /// <summary>Agent:MetricsListen (the agent's /metrics).</summary>
    public string AgentMetricsUrl { get; }

    public string Bridge { get; }

    public string Subnet { get; }

    public string NodeName { get; }

    public string AgentStateDir { get; }

    public string CoordinatorConfig { get; }

    public string AgentConfig { get; }

    public Services.ServicesClient Services { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!CanRun)
        {
            return;
        }

        await File.WriteAllTextAsync(CoordinatorConfig, $$"""
            { "Coordinator": { "Listen": "{{CoordinatorUrl}}", "DataDir": "{{Path.Combine(Dir, "coordinator")}}", "EmbeddedGateway": true, "GatewayListen": "{{GatewayUrl}}", "MetricsListen": "{{CoordinatorMetricsUrl}}" } }
            """);
        // Without fake GPUs the agent looks for a library that is not there: the node has no GPUs and says why.
        var gpu = FakeGpus is null
            ? """{ "NvmlLibrary": "libnvidia-ml.so.1" }"""
            : $$"""
                { "NvmlLibrary": "{{Repo.FakeNvmlLibrary}}", "FakeProfile": "{{FakeGpus}}", "FakeState": "{{FakeNvmlState}}",
                  "MpsControl": "{{Repo.FakeMpsControl}}", "XidHoldSeconds": 2, "WatchdogGraceSeconds": 2, "ReportSeconds": 1 }
                """;
        // Instance output goes to files whatever journald the host runs (JournaldTests cover the journald path).
        await File.WriteAllTextAsync(AgentConfig, $$"""
            { "Agent": { "NodeName": "{{NodeName}}", "Coordinator": "{{CoordinatorUrl}}", "Address": "127.0.0.1", "StateDir": "{{AgentStateDir}}", "Bridge": "{{Bridge}}", "Subnet": "{{Subnet}}", "MetricsListen": "{{AgentMetricsUrl}}", "Gpu": {{gpu}},
              "Storage": { "SecretsFile": "{{StorageSecretsFile}}" }, "InstanceLogs": "file" } }
            """);

        // The node's object-store credentials: those of the test S3 server (s3rver), root-only as the agent demands.
        await File.WriteAllTextAsync(StorageSecretsFile, """{"default": {"accessKeyId": "S3RVER", "secretAccessKey": "S3RVER"}}""");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(StorageSecretsFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        _channel = GrpcChannel.ForAddress(CoordinatorUrl);
        Services = new Services.ServicesClient(_channel);
        StartCoordinator();
        await StartAgentAsync();
    }

    public async Task StartAgentAsync()
    {
        _agent = Daemon.Start("agent", Repo.Agent, Path.Combine(Dir, "agent.log"), "--config", AgentConfig);
        await WaitForAsync(async () =>
        {
            var nodes = await Services.ListNodesAsync(new ListNodesRequest());
            return nodes.Nodes.Any(n => n.Name == NodeName && n.Status == "Ready");
        }, _registerTimeout, "the agent to register");
    }

    /// <summary>SIGTERM to the agent, as <c>systemctl stop eas-agent</c>; its instances keep running under conmon.</summary>
    public void StopAgent() => _agent?.Dispose();

    public void StartCoordinator() =>
        _coordinator = Daemon.Start("coordinator", Repo.Coordinator, Path.Combine(Dir, "coordinator.log"), "--config", CoordinatorConfig);

    /// <summary>kill -9 of the coordinator, then a fresh one over the same data directory.</summary>
    public async Task RestartCoordinatorHardAsync()
    {
        _coordinator!.Kill9();
        _coordinator.Dispose();
        StartCoordinator();
        await WaitForAsync(async () =>
        {
            var nodes = await Services.ListNodesAsync(new ListNodesRequest());
            return nodes.Nodes.Any(n => n.Name == NodeName && n.Status == "Ready");
        }, _registerTimeout, "the agent to reconnect to the restarted coordinator");
    }

    public async Task<ServiceInfo> WaitReadyAsync(string name, int ready, TimeSpan timeout)
    {
        ServiceInfo? last = null;
        await WaitForAsync(async () =>
        {
            last = await Services.DescribeServiceAsync(new ServiceRef { Name = name });
            return last.Instances.Count(i => i.State == InstanceState.Ready && i.ServiceVersion == last.Version) == ready;
        }, timeout, $"{name} to have {ready} Ready instance(s)", () => last?.ToString() ?? "");
        return last!;
    }

    public Task WaitForAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, Func<string>? state = null) =>
        Poll.UntilAsync(async () => await condition() ? "" : null, timeout, what, () => _coordinator is { HasExited: true }, Logs, state);

    /// <summary>The tails of both daemons' logs, for a failure message.</summary>
    public string Logs() => $"--- coordinator log tail ---\n{Tail("coordinator.log")}\n--- agent log tail ---\n{Tail("agent.log")}";

    public string Tail(string log, int lines = 40)
    {
        var path = Path.Combine(Dir, log);
        return File.Exists(path) ? string.Join('\n', File.ReadLines(path).TakeLast(lines)) : "(no log)";
    }

    public async Task DisposeAsync()
    {
        if (!CanRun)
        {
            return;
        }

        try
        {
            var services = await Services.ListServicesAsync(new ListServicesRequest(), deadline: DateTime.UtcNow.AddSeconds(5));
            foreach (var s in services.Services)
            {
                await Services.DeleteServiceAsync(new ServiceRef { Name = s.Name });
            }

            await WaitForAsync(async () => (await Services.ListServicesAsync(new ListServicesRequest())).Services.Count == 0, TimeSpan.FromSeconds(60), "services to be deleted");
        }
        catch (Exception e) when (e is RpcException or TimeoutException or InvalidOperationException)
        {
            // Cleanup below removes whatever is left.
        }

        _coordinator?.Dispose();
        _agent?.Dispose();
        _channel?.Dispose();
        RunCleanup();
        Directory.Delete(Dir, recursive: true);
    }

    /// <summary>What <c>make demo-stop</c> does for an agent: remove every instance, network and cgroup it made.</summary>
    public void RunCleanup()
    {
        using var cleanup = Daemon.Start("cleanup", Repo.Agent, Path.Combine(Dir, "cleanup.log"), "cleanup", "--config", AgentConfig);
        for (var i = 0; i < 600 && !cleanup.HasExited; i++)
        {
            Thread.Sleep(100);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<Cluster>
{
    public const string Name = "cluster";
}
