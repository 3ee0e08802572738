using System.Diagnostics;
using System.Text.Json.Nodes;
using Eas.Node.Contracts.V1;
using Eas.Node.Functional.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Eas.Node.Functional.Tests;

/// <summary>
/// Issue 5's "done when", on real daemons: rolling updates and scale-in under a steady load with no failed
/// request, a new version that never gets Ready (pause, old keeps serving, rollback), an agent killed for
/// 30 s under load, and a frozen node whose instances come back Ready on another node.
/// </summary>
public sealed class LifecycleTests(ITestOutputHelper output)
{
    private const string Name = "lifecycle_demo";
    private static readonly TimeSpan _deploy = TimeSpan.FromMinutes(2);

    [ClusterFact]
    public async Task RollingUpdate_AndScaleIn_UnderLoad_ReturnNoFailedRequest()
    {
        await using var cluster = await MultiNodeCluster.StartAsync(nodes: 2, subnetSecondOctet: 240);
        var service = await DeployAsync(cluster, instances: 4, greeting: "v1");

        await using (var load = StartLoad(cluster, service, TimeSpan.FromSeconds(90)))
        {
            await Task.Delay(1000);
            await cluster.Services.ModifyServiceAsync(new ModifyServiceRequest { Name = Name, SpecJson = Spec(4, "v2").ToJsonString(), Replace = true });
            var rolled = await cluster.WaitServiceAsync(Name, s => s.Version == 2 && !s.Rollout.Active && s.Status == "Running", _deploy, "the rollout to version 2 to finish");
            rolled.Instances.Where(i => i.ServiceVersion == 2).Should().HaveCount(4).And.OnlyContain(i => i.State == InstanceState.Ready);
            rolled.Instances.Where(i => i.ServiceVersion == 1).Should().OnlyContain(
                i => i.State == InstanceState.Terminating || i.State == InstanceState.Stopped, "old instances are out of the gateway, finishing their grace");
            await Task.Delay(3000);

            await cluster.Services.ScaleServiceAsync(new ScaleServiceRequest { Name = Name, Instances = 2 });
            await cluster.WaitServiceAsync(Name, s => s.Instances.Count(i => i.State == InstanceState.Ready) == 2, _deploy, "scale-in to 2 Ready instances");
            await Task.Delay(3000);
            await load.StopAsync();

            output.WriteLine($"rolling update 4 instances, then scale-in 4 → 2, under load: {load}");
            load.Total.Should().BeGreaterThan(500, "the load ran through the whole update");
            (load.NotOk + load.Errors).Should().Be(0, $"no request may fail during a rolling update or a scale-in: {load}");
        }

        var events = (await cluster.Services.ListEventsAsync(new ListEventsRequest { Service = Name })).Events;
        events.Should().Contain(e => e.Type == "RolloutDone" && e.Message == "every instance runs version 2");
    }

    [ClusterFact]
    public async Task NewVersionNeverReady_RolloutPauses_OldServesEveryRequest_RollbackReturns()
    {
        await using var cluster = await MultiNodeCluster.StartAsync(nodes: 1, subnetSecondOctet: 241, coordinatorSettings: """, "RolloutProgressDeadlineSeconds": 8""");
        var service = await DeployAsync(cluster, instances: 2, greeting: "v1");
        var before = service.Instances.Select(i => i.Id).ToList();

        await using var load = StartLoad(cluster, service, TimeSpan.FromSeconds(60));
        var broken = Spec(2, "v2");
        broken["containers"]![0]!["script"] = "exec python3 -c 'import time; time.sleep(3600)'";
        await cluster.Services.ModifyServiceAsync(new ModifyServiceRequest { Name = Name, SpecJson = broken.ToJsonString(), Replace = true });

        var paused = await cluster.WaitServiceAsync(Name, s => s.Rollout.Paused.Length > 0, _deploy, "the rollout to pause");
        paused.Rollout.Paused.Should().Contain("is not Ready after 8 s");
        paused.Instances.Where(i => i.ServiceVersion == 1).Select(i => i.Id).Should().BeEquivalentTo(before, "the old instances keep serving");
        var events = (await cluster.Services.ListEventsAsync(new ListEventsRequest { Service = Name })).Events;
        events.Should().Contain(e => e.Type == "RolloutPaused" && e.Message.Contains("the old version keeps serving", StringComparison.Ordinal));

        await cluster.Services.RollbackServiceAsync(new RollbackServiceRequest { Name = Name });
        var back = await cluster.WaitServiceAsync(Name, s => s.Version == 1 && !s.Rollout.Active && s.Instances.Count == 2, _deploy, "the rollback to version 1");
        back.Instances.Select(i => i.Id).Should().BeEquivalentTo(before, "a rollback to the version still serving touches none of its instances");
        back.Instances.Should().OnlyContain(i => i.Restarts == 0);
        await load.StopAsync();

        output.WriteLine($"paused rollout and rollback under load: {load}");
        (load.NotOk + load.Errors).Should().Be(0, $"the old version serves every request while the new one never gets Ready: {load}");
    }

    [ClusterFact]
    public async Task AgentKilledFor30Seconds_UnderLoad_NoRequestFails_AndItReattachesWithoutRestarting()
    {
        await using var cluster = await MultiNodeCluster.StartAsync(nodes: 1, subnetSecondOctet: 242);
        var service = await DeployAsync(cluster, instances: 2, greeting: "v1");
        var node = cluster.Nodes[0];

        await using var load = StartLoad(cluster, service, TimeSpan.FromSeconds(60));
        await Task.Delay(1000);
        node.KillAgent();
        await Task.Delay(TimeSpan.FromSeconds(30));
        (await cluster.NodeInfoAsync(node.Name)).Status.Should().Be("Down", "30 s is past the 10 s grace");
        await node.StartAsync();
        var after = await cluster.WaitServiceAsync(Name, s => s.Status == "Running" && s.Instances.All(i => i.State == InstanceState.Ready), _deploy, "the service to be Running again");
        await Task.Delay(2000);
        await load.StopAsync();

        output.WriteLine($"agent SIGKILLed for 30 s under load: {load}");
        (load.NotOk + load.Errors).Should().Be(0, $"instances serve while their agent is away: {load}");
        after.Instances.Select(i => i.Id).Should().BeEquivalentTo(service.Instances.Select(i => i.Id));
        after.Instances.Should().OnlyContain(i => i.Restarts == 0, "the restarted agent re-attaches, it starts nothing twice");
        File.ReadAllText(node.Log).Should().Contain("Re-attached to running instance");
    }

    [ClusterFact]
    public async Task FrozenNode_ItsInstancesAreReadyOnAnotherNode_AndTheOldCopiesStopWhenItReturns()
    {
        await using var cluster = await MultiNodeCluster.StartAsync(nodes: 2, subnetSecondOctet: 243);
        var lost = cluster.Nodes[0];
        await cluster.Services.CordonNodeAsync(new NodeRef { Name = cluster.Nodes[1].Name });
        var service = await DeployAsync(cluster, instances: 2, greeting: "v1");
        service.Instances.Should().OnlyContain(i => i.Node == lost.Name, "the other node is cordoned");
        await cluster.Services.UncordonNodeAsync(new NodeRef { Name = cluster.Nodes[1].Name });

        var clock = Stopwatch.StartNew();
        await lost.FreezeAsync();
        var moved = await cluster.WaitServiceAsync(
            Name,
            s => s.Instances.Count(i => i.Node == cluster.Nodes[1].Name && i.State == InstanceState.Ready) == 2,
            _deploy,
            "both instances to be Ready on the other node");
        output.WriteLine($"node frozen → its 2 instances Ready on the other node in {clock.Elapsed.TotalSeconds:0.0} s");
        (await cluster.NodeInfoAsync(lost.Name)).Status.Should().Be("Down");
        // The lost node's copies may still be listed for a moment (they stay routed until their replacements are Ready).
        moved.Instances.Where(i => i.Node == cluster.Nodes[1].Name).Select(i => i.Id)
            .Should().NotIntersectWith(service.Instances.Select(i => i.Id), "the instances on the other node are new ones");

        lost.Thaw();
        await lost.StartAsync();
        await cluster.WaitForAsync(async () => (await lost.RuncAsync("list", "-q")).Count == 0 ? "" : null, _deploy, "the returned node to stop the copies that moved away");
        (await cluster.DescribeAsync(Name)).Instances.Should().HaveCount(2).And.OnlyContain(i => i.Node == cluster.Nodes[1].Name);
    }

    private static JsonObject Spec(int instances, string greeting) => new()
    {
        ["metadata"] = new JsonObject
        {
            ["name"] = Name,
            ["instance"] = instances,
            // 0.4 core each: the load is 100 requests/s over 2 instances, and at 0.1 core the Flask app sat at its CPU
            // quota, so a short stall queued 64 calls per instance and the gateway answered 450 (seen in a clean-clone run).
            ["cpu"] = 0.4,
            ["memory"] = 256,
            ["rpc"] = new JsonObject { ["enable_sigterm"] = true },
            ["eas"] = new JsonObject { ["termination_grace_period"] = 5 },
        },
        ["containers"] = new JsonArray(new JsonObject
        {
            ["image"] = "host",
            ["script"] = "exec python3 /mnt/data/app.py",
            ["port"] = 8000,
            ["env"] = new JsonArray(new JsonObject { ["name"] = "GREETING", ["value"] = greeting }),
        }),
        ["storage"] = new JsonArray(new JsonObject
        {
            ["mount_path"] = "/mnt/data/",
            ["host"] = new JsonObject { ["path"] = Path.Combine(Repo.Root, "examples/quickstart/code"), ["readOnly"] = true },
        }),
    };

    private static async Task<ServiceInfo> DeployAsync(MultiNodeCluster cluster, int instances, string greeting)
    {
        await cluster.Services.CreateServiceAsync(new CreateServiceRequest { SpecJson = Spec(instances, greeting).ToJsonString() });
        return await cluster.WaitServiceAsync(Name, s => s.Status == "Running" && s.Replicas.Ready == instances, _deploy, $"{instances} Ready instances");
    }

    private static LoadDriver StartLoad(MultiNodeCluster cluster, ServiceInfo service, TimeSpan limit) =>
        LoadDriver.Start($"{cluster.GatewayUrl}/api/predict/{Name}/", service.Token, requestsPerSecond: 100, limit);
}
