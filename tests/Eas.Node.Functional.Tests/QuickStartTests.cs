using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Eas.Node.Contracts.V1;
using Eas.Node.Functional.Tests.Infrastructure;
using Eas.Node.Spec;
using Grpc.Core;

namespace Eas.Node.Functional.Tests;

/// <summary>
/// The foundation's "done when", tried as a user would: the EAS quick start deployed by real daemons
/// (coordinator + gateway, agent with conmon/runc/CNI), called through the gateway, scaled, crashed,
/// survived a coordinator kill -9, and deleted without leftovers. Tests share one cluster and run in order.
/// </summary>
[Collection(ClusterCollection.Name)]
[TestCaseOrderer("Eas.Node.Functional.Tests.Infrastructure.AlphabeticalOrderer", "Eas.Node.Functional.Tests")]
public sealed partial class QuickStartTests(Cluster cluster)
{
    private const string Name = "flask_demo";
    private static readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };

    [ClusterFact]
    public async Task A_Create_QuickStart_AnswersFromBothInstances()
    {
        await EnsureDeployedAsync();
        var service = await cluster.WaitReadyAsync(Name, 2, TimeSpan.FromMinutes(3));

        service.Token.Should().NotBeNullOrEmpty();
        var answered = new HashSet<string>();
        for (var i = 0; i < 20; i++)
        {
            using var response = await CallAsync(service.Token, "/hello?x=1");
            response.StatusCode.Should().Be(HttpStatusCode.OK);
            var body = await response.Content.ReadAsStringAsync();
            body.Should().Contain("path=/hello");
            answered.Add(InstanceRegex().Match(body).Groups[1].Value);
        }

        answered.Should().BeEquivalentTo(service.Instances.Select(i => i.Id), "calls are balanced over both instances");
    }

    [ClusterFact]
    public async Task B_Gateway_BadCalls_GetEasStatusCodes()
    {
        var service = await EnsureDeployedAsync();

        (await CallAsync(null, "/")).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await CallAsync("wrong-token", "/")).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await CallAsync("Bearer " + service.Token, "/")).StatusCode.Should().Be(HttpStatusCode.OK);
        using (var unknown = new HttpRequestMessage(HttpMethod.Get, $"{cluster.GatewayUrl}/api/predict/no_such_service/"))
        {
            unknown.Headers.TryAddWithoutValidation("Authorization", service.Token);
            (await _http.SendAsync(unknown)).StatusCode.Should().Be(HttpStatusCode.NotFound);
        }

        using (var big = new HttpRequestMessage(HttpMethod.Post, $"{cluster.GatewayUrl}/api/predict/{Name}/"))
        {
            big.Headers.TryAddWithoutValidation("Authorization", service.Token);
            big.Content = new ByteArrayContent(new byte[2 * 1024 * 1024]);

            // As curl does for large bodies: wait for the server's verdict before sending, so a 413 that comes
            // before the body is read is seen as such rather than as a broken pipe while still writing.
            big.Headers.ExpectContinue = true;
            (await _http.SendAsync(big)).StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        }

        // The quick start's keepalive is 5000 ms; a handler that takes 12 s is cut off with 408 long before it answers.
        var watch = Stopwatch.StartNew();
        (await CallAsync(service.Token, "/sleep?seconds=12")).StatusCode.Should().Be(HttpStatusCode.RequestTimeout);
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10));
    }

    [ClusterFact]
    public async Task C_Instance_ShmAndMemory_AreTheSpecs()
    {
        var service = await EnsureDeployedAsync();
        var instance = service.Instances.First(i => i.State == InstanceState.Ready);
        var pid = HostInspector.InstancePids(instance.Id).Should().NotBeEmpty().And.Subject.First();

        HostInspector.MemoryLimitBytes(pid).Should().Be(512L * 1024 * 1024, "metadata.memory is 512 MB");
        HostInspector.ShmSizeKib(pid).Should().Be(128 * 1024, "metadata.shm_size is 0.125 GB");
    }

    [ClusterFact]
    public async Task D_Scale_ToThree_ThenKill9_RestartsAndCounts()
    {
        await EnsureDeployedAsync();
        await cluster.Services.ScaleServiceAsync(new ScaleServiceRequest { Name = Name, Instances = 3 });
        var service = await cluster.WaitReadyAsync(Name, 3, TimeSpan.FromMinutes(2));

        var victim = service.Instances.First();
        foreach (var pid in HostInspector.InstancePids(victim.Id))
        {
            Native.Kill(pid, Native.SigKill);
        }

        await cluster.WaitForAsync(async () =>
        {
            var now = await cluster.Services.DescribeServiceAsync(new ServiceRef { Name = Name });
            var same = now.Instances.SingleOrDefault(i => i.Id == victim.Id);
            return same is { State: InstanceState.Ready, Restarts: >= 1 };
        }, TimeSpan.FromMinutes(1), $"{victim.Id} to be restarted in place and Ready again");

        var events = await cluster.Services.ListEventsAsync(new ListEventsRequest { Service = Name });
        events.Events.Should().Contain(e => e.InstanceId == victim.Id && e.Type == "Restarted");
    }

    [ClusterFact]
    public async Task E_CoordinatorKill9_LosesNothing_AndInstancesKeepServing()
    {
        var before = await EnsureDeployedAsync();
        await cluster.RestartCoordinatorHardAsync();

        var after = await cluster.WaitReadyAsync(Name, before.Replicas.Desired, TimeSpan.FromMinutes(1));
        after.Token.Should().Be(before.Token);
        after.Version.Should().Be(before.Version);
        after.Instances.Select(i => i.Id).Should().BeEquivalentTo(before.Instances.Select(i => i.Id), "the running instances are adopted, not replaced");
        await cluster.WaitForAsync(async () => (await CallAsync(after.Token, "/")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "the gateway to route again");
    }

    [ClusterFact]
    public async Task F_Logs_ShowInstanceOutput()
    {
        await EnsureDeployedAsync();
        var logs = await cluster.Services.GetLogsAsync(new GetLogsRequest { Service = Name, TailLines = 50 });
        logs.Logs.Should().NotBeEmpty();
        logs.Logs.Should().OnlyContain(l => l.Error.Length == 0);
        logs.Logs.SelectMany(l => l.Lines).Should().Contain(l => l.Contains("Running on", StringComparison.Ordinal), "Flask prints where it listens");
    }

    [ClusterFact]
    public async Task G_Delete_LeavesNothingBehind()
    {
        var service = await EnsureDeployedAsync();
        var ids = service.Instances.Select(i => i.Id).ToList();
        await cluster.Services.DeleteServiceAsync(new ServiceRef { Name = Name });
        await cluster.WaitForAsync(async () =>
        {
            try
            {
                await cluster.Services.DescribeServiceAsync(new ServiceRef { Name = Name });
                return false;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
            {
                return true;
            }
        }, TimeSpan.FromMinutes(1), "the service to be gone");

        foreach (var id in ids)
        {
            HostInspector.InstancePids(id).Should().BeEmpty();
            HostInspector.NetworkNamespaces().Should().NotContain(n => n.Contains(id, StringComparison.Ordinal));
            HostInspector.CgroupsNamed(id).Should().BeEmpty();
            HostInspector.ProcessesMentioning("eas-" + id).Should().BeEmpty("no conmon is left for the instance");
        }

        HostInspector.Run("runc", "list", "-q").Split('\n').Should().NotContain(c => ids.Any(id => c.Contains(id, StringComparison.Ordinal)));
        HostInspector.MountsUnder(cluster.AgentStateDir).Should().BeEmpty();
    }

    [ClusterFact]
    public async Task H_AgentCleanup_RemovesBridgeAndAllocations()
    {
        await EnsureDeployedAsync();
        await cluster.WaitReadyAsync(Name, 2, TimeSpan.FromMinutes(2));

        // What make demo-stop does while instances still run: stop the agent, then its cleanup removes everything.
        cluster.StopAgent();
        try
        {
            cluster.RunCleanup();

            HostInspector.LinkExists(cluster.Bridge).Should().BeFalse();
            HostInspector.ProcessesMentioning(cluster.AgentStateDir).Where(p => p.Contains("conmon", StringComparison.Ordinal)).Should().BeEmpty();
            HostInspector.MountsUnder(cluster.AgentStateDir).Should().BeEmpty();
            HostInspector.NetworkNamespaces().Should().NotContain(n => n.Contains(Name, StringComparison.Ordinal));
            HostInspector.CgroupsNamed(Name).Should().BeEmpty();
            var cni = Path.Combine(cluster.AgentStateDir, "cni");
            var allocations = Directory.Exists(cni)
                ? Directory.EnumerateFiles(cni, "*", SearchOption.AllDirectories).Where(f => IPAddress.TryParse(Path.GetFileName(f), out _))
                : [];
            allocations.Should().BeEmpty("host-local keeps one file per allocated address");
        }
        finally
        {
            await cluster.StartAgentAsync();
        }
    }

    private async Task<ServiceInfo> EnsureDeployedAsync()
    {
        try
        {
            var existing = await cluster.Services.DescribeServiceAsync(new ServiceRef { Name = Name });
            return await cluster.WaitReadyAsync(Name, existing.Replicas.Desired, TimeSpan.FromMinutes(3));
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            var folder = Path.Combine(Repo.Root, "examples", "quickstart");
            var parsed = SpecParser.Parse(await File.ReadAllTextAsync(Path.Combine(folder, "service.json")), new SpecParseOptions { BaseDirectory = folder });
            parsed.Errors.Should().BeEmpty();
            await cluster.Services.CreateServiceAsync(new CreateServiceRequest { SpecJson = SpecWriter.ToJson(parsed.Spec!) });
            return await cluster.WaitReadyAsync(Name, 2, TimeSpan.FromMinutes(3));
        }
    }

    private async Task<HttpResponseMessage> CallAsync(string? authorization, string pathAndQuery, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{cluster.GatewayUrl}/api/predict/{Name}{pathAndQuery}");
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        return await _http.SendAsync(request, ct);
    }

    [GeneratedRegex("instance=(\\S+)")]
    private static partial Regex InstanceRegex();
}
