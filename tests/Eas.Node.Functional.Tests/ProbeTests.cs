using System.Net;
using System.Text.RegularExpressions;
using Eas.Node.Contracts.V1;
using Eas.Node.Functional.Tests.Infrastructure;

namespace Eas.Node.Functional.Tests;

/// <summary>
/// Health checks and crash block on the real daemons: a Flask app whose answers the test switches with files in a
/// host folder; HTTP readiness taking instances out of the gateway and back, a liveness failure restarting in place
/// with an event, a startup check holding readiness back, an exec check running inside the instance, and a crashed
/// instance kept FAILED with its container until <c>easctl restart</c>.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed partial class ProbeTests(Cluster cluster) : IDisposable
{
    private static readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private static readonly TimeSpan _ready = TimeSpan.FromMinutes(2);

    // /health answers 503 while /mnt/ctl/<instance id>.sick exists; /started 200 once /mnt/ctl/started exists;
    // /make-ready creates /data/ready (an empty_dir only the instance sees); /crash exits with code 3.
    private const string App = """
        import os, sys
        from flask import Flask
        app = Flask(__name__)
        INSTANCE = os.environ["EAS_INSTANCE_ID"]

        @app.route("/health")
        def health():
            return ("sick\n", 503) if os.path.exists(f"/mnt/ctl/{INSTANCE}.sick") else "ok\n"

        @app.route("/started")
        def started():
            return "started\n" if os.path.exists("/mnt/ctl/started") else ("loading\n", 503)

        @app.route("/make-ready")
        def make_ready():
            open("/data/ready", "w").close()
            return "made /data/ready\n"

        @app.route("/crash")
        def crash():
            print(f"crashing on purpose: {INSTANCE}", flush=True)
            os._exit(3)

        @app.route("/", defaults={"path": ""})
        @app.route("/<path:path>")
        def hello(path):
            return f"instance={INSTANCE}\n"

        print(f"probe app {INSTANCE} starting", flush=True)
        app.run(host="0.0.0.0", port=int(os.environ["PORT"]), threaded=True)
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("eas-ft-probes-").FullName;

    private string CodeDir => Path.Combine(_dir, "code");

    private string ControlDir => Path.Combine(_dir, "ctl");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [ClusterFact]
    public async Task Readiness_HttpCheck_TakesAnInstanceOutOfTheGatewayAndBack()
    {
        const string Name = "probe_ready";
        await CreateAsync(Name, 2, """
            "readiness_check": { "http_get": { "path": "/health" }, "period_seconds": 1, "failure_threshold": 2 }
            """);
        try
        {
            var service = await cluster.WaitReadyAsync(Name, 2, _ready);
            var (sick, well) = (service.Instances[0], service.Instances[1]);
            (await AnsweredByAsync(Name, service.Token, 20)).Should().BeEquivalentTo([sick.Id, well.Id], "both instances take requests");

            await File.WriteAllTextAsync(Path.Combine(ControlDir, sick.Id + ".sick"), "");
            var reason = $"readiness check failed 2 times in a row: GET http://{sick.Ip}:8000/health returned 503";
            await WaitInstanceAsync(Name, sick.Id, i => i.State == InstanceState.Running && i.Reason == reason, "the failing instance to leave Ready");
            var (exit, desc, _) = await Easctl.RunAsync(cluster, "desc", Name);
            exit.Should().Be(0);
            desc.Should().Contain(reason, "easctl desc shows why the instance is not ready");
            await cluster.WaitForAsync(async () => (await AnsweredByAsync(Name, service.Token, 10)).SetEquals([well.Id]), TimeSpan.FromSeconds(30),
                "requests to go only to the ready instance");

            await File.WriteAllTextAsync(Path.Combine(ControlDir, well.Id + ".sick"), "");
            await WaitInstanceAsync(Name, well.Id, i => i.State == InstanceState.Running, "the second instance to leave Ready");
            await cluster.WaitForAsync(async () => (await CallAsync(Name, service.Token, "/")).StatusCode == HttpStatusCode.ServiceUnavailable,
                TimeSpan.FromSeconds(30), "the gateway to answer 503 with no ready instance");

            File.Delete(Path.Combine(ControlDir, sick.Id + ".sick"));
            File.Delete(Path.Combine(ControlDir, well.Id + ".sick"));
            var back = await cluster.WaitReadyAsync(Name, 2, _ready);
            back.Instances.Should().OnlyContain(i => i.Restarts == 0, "readiness never restarts an instance");
            await cluster.WaitForAsync(async () => (await AnsweredByAsync(Name, service.Token, 20)).Count == 2, TimeSpan.FromSeconds(30),
                "both instances to take requests again");
        }
        finally
        {
            await DeleteAsync(Name);
        }
    }

    [ClusterFact]
    public async Task Liveness_Failure_RestartsInPlace_CountsIt_AndSaysWhyInAnEvent()
    {
        const string Name = "probe_live";
        await CreateAsync(Name, 1, """
            "startup_check": { "tcp_socket": {}, "period_seconds": 1, "failure_threshold": 60 },
            "liveness_check": { "http_get": { "path": "/health", "port": 8000 }, "period_seconds": 1, "failure_threshold": 2 }
            """);
        try
        {
            var instance = (await cluster.WaitReadyAsync(Name, 1, _ready)).Instances.Single();
            var pidBefore = HostInspector.InstancePids(instance.Id).Min();

            await File.WriteAllTextAsync(Path.Combine(ControlDir, instance.Id + ".sick"), "");
            var restarted = await WaitInstanceAsync(Name, instance.Id, i => i.Restarts >= 1, "the instance to be restarted by its liveness check");
            File.Delete(Path.Combine(ControlDir, instance.Id + ".sick"));

            var why = $"liveness check failed 2 times in a row: GET http://{instance.Ip}:8000/health returned 503; restarted";
            var events = await cluster.Services.ListEventsAsync(new ListEventsRequest { Service = Name });
            events.Events.Should().Contain(e => e.InstanceId == instance.Id && e.Type == "Restarted" && e.Message.Contains(why, StringComparison.Ordinal),
                $"events were: {string.Join(" | ", events.Events.Select(e => $"{e.Type}: {e.Message}"))}");
            restarted.Id.Should().Be(instance.Id, "restarted in place");

            var again = await WaitInstanceAsync(Name, instance.Id, i => i.State == InstanceState.Ready, "the restarted instance to be Ready");
            again.Restarts.Should().BeGreaterThanOrEqualTo(1);
            HostInspector.InstancePids(instance.Id).Should().NotContain(pidBefore, "the process was replaced");
        }
        finally
        {
            await DeleteAsync(Name);
        }
    }

    [ClusterFact]
    public async Task Startup_HoldsReadinessBack_UntilItPasses()
    {
        const string Name = "probe_startup";
        await CreateAsync(Name, 1, """
            "startup_check": { "http_get": { "path": "/started" }, "period_seconds": 1, "failure_threshold": 120 }
            """);
        try
        {
            var running = await WaitInstanceAsync(Name, null, i => i.State == InstanceState.Running && i.Ip.Length > 0, "the instance to run");
            await cluster.WaitForAsync(async () => await AnswersDirectlyAsync(running), TimeSpan.FromSeconds(60), "the app to listen on its port");

            // The port answers, which is all the default readiness check wants; the startup check still holds it back.
            for (var i = 0; i < 6; i++)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500));
                (await InstanceAsync(Name, running.Id)).State.Should().Be(InstanceState.Running, "the startup check has not passed");
            }

            await File.WriteAllTextAsync(Path.Combine(ControlDir, "started"), "");
            var ready = await WaitInstanceAsync(Name, running.Id, i => i.State == InstanceState.Ready, "the instance to be Ready once started");
            ready.Restarts.Should().Be(0);
        }
        finally
        {
            await DeleteAsync(Name);
        }
    }

    [ClusterFact]
    public async Task ExecCheck_RunsInsideTheInstance()
    {
        const string Name = "probe_exec";
        await CreateAsync(Name, 1, """
            "readiness_check": { "exec": { "command": ["test", "-f", "/data/ready"] }, "period_seconds": 1, "failure_threshold": 1 }
            """, """, { "mount_path": "/data", "empty_dir": {} }""");
        try
        {
            var running = await WaitInstanceAsync(Name, null, i => i.State == InstanceState.Running && i.Ip.Length > 0, "the instance to run");
            await cluster.WaitForAsync(async () => await AnswersDirectlyAsync(running), TimeSpan.FromSeconds(60), "the app to listen on its port");
            var notReady = await WaitInstanceAsync(Name, running.Id, i => i.Reason.Length > 0, "the exec check to report");
            notReady.State.Should().Be(InstanceState.Running);
            notReady.Reason.Should().Be("readiness check failed 1 time in a row: exec `test -f /data/ready` exited with code 1");

            (await _http.GetStringAsync($"http://{running.Ip}:{running.Port}/make-ready")).Should().Contain("made /data/ready");

            await WaitInstanceAsync(Name, running.Id, i => i.State == InstanceState.Ready, "the exec check to pass");
        }
        finally
        {
            await DeleteAsync(Name);
        }
    }

    [ClusterFact]
    public async Task CrashBlock_KeepsTheCrashedInstanceFailedWithItsContainer_UntilEasctlRestart()
    {
        const string Name = "probe_crash";
        await CreateAsync(Name, 1, "", top: """, "runtime": { "enable_crash_block": true }""");
        try
        {
            var instance = (await cluster.WaitReadyAsync(Name, 1, _ready)).Instances.Single();
            try
            {
                using var _ = await _http.GetAsync($"http://{instance.Ip}:{instance.Port}/crash");
            }
            catch (HttpRequestException)
            {
                // The process exits before it answers.
            }

            var failed = await WaitInstanceAsync(Name, instance.Id, i => i.State == InstanceState.Failed, "the crashed instance to be Failed");
            failed.Reason.Should().StartWith("exited with code 3; kept for inspection (runtime.enable_crash_block is true)")
                .And.Contain($"easctl restart {Name} --instance {instance.Id}");

            // Kept: no restart, the container still known to runc (stopped), its network namespace still there.
            await Task.Delay(TimeSpan.FromSeconds(3));
            var kept = await InstanceAsync(Name, instance.Id);
            (kept.State, kept.Restarts).Should().Be((InstanceState.Failed, 0), "a crash-blocked instance is not restarted");
            RuncState(instance.Id).Should().Contain("\"status\": \"stopped\"");
            HostInspector.NetworkNamespaces().Should().Contain(n => n.Contains(instance.Id, StringComparison.Ordinal));
            var (logsExit, logs, _) = await Easctl.RunAsync(cluster, "logs", Name, "--instance", instance.Id);
            logsExit.Should().Be(0);
            logs.Should().Contain($"crashing on purpose: {instance.Id}", "easctl logs shows the crashed instance's output");

            var (exit, _, stderr) = await Easctl.RunAsync(cluster, "restart", Name, "--instance", instance.Id);
            exit.Should().Be(0, stderr);
            var again = await WaitInstanceAsync(Name, instance.Id, i => i.State == InstanceState.Ready, "the instance to run again after easctl restart");
            again.Restarts.Should().Be(1);
            (await _http.GetStringAsync($"http://{again.Ip}:{again.Port}/")).Should().Contain($"instance={instance.Id}");
            var events = await cluster.Services.ListEventsAsync(new ListEventsRequest { Service = Name });
            events.Events.Should().Contain(e => e.InstanceId == instance.Id && e.Type == "Failed" && e.Message.Contains("kept for inspection", StringComparison.Ordinal));
            events.Events.Should().Contain(e => e.InstanceId == instance.Id && e.Type == "Restarted");
        }
        finally
        {
            await DeleteAsync(Name);
        }
    }

    private async Task CreateAsync(string name, int instances, string probes, string storage = "", string top = "")
    {
        Directory.CreateDirectory(CodeDir);
        Directory.CreateDirectory(ControlDir);
        await File.WriteAllTextAsync(Path.Combine(CodeDir, "app.py"), App);
        var spec = $$"""
            { "metadata": { "name": "{{name}}", "instance": {{instances}}, "cpu": 0.2, "memory": 256, "rpc": { "enable_sigterm": true }, "eas": { "termination_grace_period": 2 } },
              "containers": [ { "image": "host", "script": "exec python3 /mnt/code/app.py", "port": 8000 {{(probes.Length > 0 ? ", " + probes : "")}} } ],
              "storage": [ { "mount_path": "/mnt/code", "host": { "path": "{{CodeDir}}", "readOnly": true } },
                           { "mount_path": "/mnt/ctl", "host": { "path": "{{ControlDir}}", "readOnly": true } } {{storage}} ] {{top}} }
            """;
        await cluster.Services.CreateServiceAsync(new CreateServiceRequest { SpecJson = spec });
    }

    private async Task DeleteAsync(string name)
    {
        await cluster.Services.DeleteServiceAsync(new ServiceRef { Name = name });
        await cluster.WaitForAsync(
            async () => (await cluster.Services.ListServicesAsync(new ListServicesRequest())).Services.All(s => s.Name != name),
            TimeSpan.FromMinutes(1), $"{name} to be deleted");
    }

    private async Task<InstanceInfo> InstanceAsync(string service, string id) =>
        (await cluster.Services.DescribeServiceAsync(new ServiceRef { Name = service })).Instances.Single(i => i.Id == id);

    /// <summary>Waits for an instance of <paramref name="service"/> (<paramref name="id"/>, or any) to satisfy <paramref name="condition"/>.</summary>
    private async Task<InstanceInfo> WaitInstanceAsync(string service, string? id, Func<InstanceInfo, bool> condition, string what)
    {
        InstanceInfo? found = null;
        ServiceInfo? last = null;
        await cluster.WaitForAsync(async () =>
        {
            last = await cluster.Services.DescribeServiceAsync(new ServiceRef { Name = service });
            found = last.Instances.FirstOrDefault(i => (id is null || i.Id == id) && condition(i));
            return found is not null;
        }, TimeSpan.FromMinutes(2), what, () => last?.ToString() ?? "");
        return found!;
    }

    private static async Task<bool> AnswersDirectlyAsync(InstanceInfo instance)
    {
        try
        {
            return (await _http.GetStringAsync($"http://{instance.Ip}:{instance.Port}/")).Contains(instance.Id, StringComparison.Ordinal);
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private async Task<HashSet<string>> AnsweredByAsync(string service, string token, int calls)
    {
        var answered = new HashSet<string>();
        for (var i = 0; i < calls; i++)
        {
            using var response = await CallAsync(service, token, "/");
            if (response.StatusCode == HttpStatusCode.OK)
            {
                answered.Add(InstanceRegex().Match(await response.Content.ReadAsStringAsync()).Groups[1].Value);
            }
            else
            {
                answered.Add("status " + (int)response.StatusCode);
            }
        }

        return answered;
    }

    private async Task<HttpResponseMessage> CallAsync(string service, string token, string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{cluster.GatewayUrl}/api/predict/{service}{path}");
        request.Headers.TryAddWithoutValidation("Authorization", token);
        return await _http.SendAsync(request);
    }

    private string RuncState(string instanceId) => HostInspector.Run("runc", "--root", Path.Combine(cluster.AgentStateDir, "runc"), "state", "eas-" + instanceId);

    [GeneratedRegex("instance=(\\S+)")]
    private static partial Regex InstanceRegex();
}
