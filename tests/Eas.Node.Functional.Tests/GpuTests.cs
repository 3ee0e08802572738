using System.Diagnostics;
using System.Text.Json.Nodes;
using Eas.Node.Contracts.V1;
using Eas.Node.Functional.Tests.Infrastructure;

namespace Eas.Node.Functional.Tests;

/// <summary>A cluster whose agent sees two H100-80GB GPUs through the fake NVML (native/fake-nvml).</summary>
public sealed class GpuCluster() : Cluster("g", 238, "2xH100-80GB")
{
}

[CollectionDefinition(Name)]
public sealed class GpuClusterCollection : ICollectionFixture<GpuCluster>
{
    public const string Name = "gpu-cluster";
}

/// <summary>
/// The GPU issue's "done when" on a real agent over fake NVML: whole GPUs and slices placed and enforced
/// (env, device nodes, MPS), bin-packing, an XID moving work off a GPU, the GPU memory watchdog, and
/// what easctl shows. Tests share one cluster and run in order.
/// </summary>
[Collection(GpuClusterCollection.Name)]
[TestCaseOrderer("Eas.Node.Functional.Tests.Infrastructure.AlphabeticalOrderer", "Eas.Node.Functional.Tests")]
public sealed class GpuTests(GpuCluster cluster)
{
    private static readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [ClusterFact]
    public async Task A_Inventory_ShowsBothGpus_InEasctlNodes()
    {
        var (exit, stdout, _) = await Easctl.RunAsync(cluster, "nodes", "-o", "json");

        exit.Should().Be(0);
        var node = JsonNode.Parse(stdout)!.AsArray().Single(n => n!["name"]!.GetValue<string>() == cluster.NodeName)!;
        var gpus = node["gpus"]!.AsArray();
        gpus.Should().HaveCount(2);
        gpus.Select(g => g!["index"]!.GetValue<int>()).Should().Equal(0, 1);
        gpus.Select(g => g!["uuid"]!.GetValue<string>()).Should().OnlyHaveUniqueItems().And.AllSatisfy(u => u.Should().StartWith("GPU-"));
        gpus.Should().AllSatisfy(g =>
        {
            g!["model"]!.GetValue<string>().Should().Contain("H100");
            g["memory_mib"]!.GetValue<long>().Should().BeGreaterThan(80_000);
            g["healthy"]!.GetValue<bool>().Should().BeTrue();
            g["instances"]!.AsArray().Should().BeEmpty();
        });
        node["gpu_driver_version"]!.GetValue<string>().Should().NotBeEmpty();
    }

    [ClusterFact]
    public async Task B_WholeGpus_EachInstanceSeesOnlyItsGpu_AndAThirdStaysPending()
    {
        await CreateAsync("gpu_whole", instances: 2, """ "gpu": 1 """);
        var service = await cluster.WaitReadyAsync("gpu_whole", 2, TimeSpan.FromMinutes(2));
        var gpus = await GpusAsync();

        var seen = new List<string>();
        foreach (var instance in service.Instances)
        {
            instance.Gpu.Kind.Should().Be("whole");
            var inside = await AskAsync(instance);
            var uuid = inside["cuda_visible_devices"]!.GetValue<string>();
            uuid.Should().Be(instance.Gpu.GpuUuids.Single()).And.StartWith("GPU-");
            inside["nvidia_visible_devices"]!.GetValue<string>().Should().Be(uuid);
            var minor = gpus.Single(g => g.Uuid == uuid).Index;
            inside["devices"]!.AsArray().Select(d => d!.GetValue<string>())
                .Should().BeEquivalentTo($"/dev/nvidia{minor}", "/dev/nvidiactl");
            seen.Add(uuid);
        }

        seen.Should().OnlyHaveUniqueItems("each instance has a GPU of its own");

        await cluster.Services.ScaleServiceAsync(new ScaleServiceRequest { Name = "gpu_whole", Instances = 3 });
        InstanceInfo? pending = null;
        await cluster.WaitForAsync(async () =>
        {
            var described = await cluster.Services.DescribeServiceAsync(new ServiceRef { Name = "gpu_whole" });
            pending = described.Instances.FirstOrDefault(i => i.Node.Length == 0 && i.Reason.Length > 0);
            return pending is not null;
        }, TimeSpan.FromSeconds(30), "the third whole-GPU instance to be refused with a reason");
        pending!.State.Should().Be(InstanceState.Pending);
        pending.Reason.Should().Contain("GPU").And.Contain("1 node checked");

        await DeleteAsync("gpu_whole");
    }

    [ClusterFact]
    public async Task C_Slices_BinPackOntoOneGpu_LeavingTheOtherWhole_AndGetMpsLimits()
    {
        await CreateAsync("gpu_slice", instances: 3, """ "gpu_memory": 20, "gpu_core_percentage": 30 """);
        var slices = await cluster.WaitReadyAsync("gpu_slice", 3, TimeSpan.FromMinutes(2));
        var shared = slices.Instances.Select(i => i.Gpu.GpuUuids.Single()).Distinct().Should().ContainSingle("three slices fit on one GPU").Subject;

        var inside = await AskAsync(slices.Instances[0]);
        inside["cuda_visible_devices"]!.GetValue<string>().Should().Be(shared);
        inside["cuda_mps_pinned_device_mem_limit"]!.GetValue<string>().Should().Be("0=20480M");
        inside["cuda_mps_active_thread_percentage"]!.GetValue<string>().Should().Be("30");
        inside["cuda_mps_pipe_directory"]!.GetValue<string>().Should().NotBeEmpty();
        MpsDaemonRuns(shared).Should().BeTrue("the agent starts one MPS control daemon per shared GPU");

        await CreateAsync("gpu_whole", instances: 1, """ "gpu": 1 """);
        var whole = await cluster.WaitReadyAsync("gpu_whole", 1, TimeSpan.FromMinutes(2));
        whole.Instances.Single().Gpu.GpuUuids.Single().Should().NotBe(shared, "the slices left the other GPU whole");
        await DeleteAsync("gpu_whole");

        await cluster.Services.ScaleServiceAsync(new ScaleServiceRequest { Name = "gpu_slice", Instances = 6 });
        var six = await cluster.WaitReadyAsync("gpu_slice", 6, TimeSpan.FromMinutes(2));
        six.Instances.GroupBy(i => i.Gpu.GpuUuids.Single()).Select(g => g.Count()).Should().Equal(3, 3);

        await cluster.Services.ScaleServiceAsync(new ScaleServiceRequest { Name = "gpu_slice", Instances = 7 });
        InstanceInfo? seventh = null;
        await cluster.WaitForAsync(async () =>
        {
            var described = await cluster.Services.DescribeServiceAsync(new ServiceRef { Name = "gpu_slice" });
            seventh = described.Instances.FirstOrDefault(i => i.Node.Length == 0 && i.Reason.Length > 0);
            return seventh is not null;
        }, TimeSpan.FromSeconds(30), "the seventh slice to be refused with a reason");
        seventh!.Reason.Should().Contain("slice");

        await cluster.Services.ScaleServiceAsync(new ScaleServiceRequest { Name = "gpu_slice", Instances = 3 });
        await cluster.WaitReadyAsync("gpu_slice", 3, TimeSpan.FromMinutes(1));
    }

    [ClusterFact]
    public async Task D_Watchdog_EvictsAnInstanceOverItsSlice_WithAnEvent()
    {
        var service = await cluster.WaitReadyAsync("gpu_slice", 3, TimeSpan.FromMinutes(2));
        var victim = service.Instances.Where(i => i.State == InstanceState.Ready).OrderBy(i => i.Id, StringComparer.Ordinal).First();
        var gpu = (await GpusAsync()).Single(g => g.Uuid == victim.Gpu.GpuUuids.Single());
        var pid = HostInspector.InstancePids(victim.Id).Min();

        await FakeNvmlAsync("process", "--gpu", gpu.Index.ToString(System.Globalization.CultureInfo.InvariantCulture), "--pid", pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "--used-mib", "30000");
        try
        {
            await cluster.WaitForAsync(async () =>
            {
                var events = await cluster.Services.ListEventsAsync(new ListEventsRequest { Service = "gpu_slice" });
                return events.Events.Any(e => e.InstanceId == victim.Id && e.Type == "Restarted" && e.Message.Contains("GPU memory watchdog", StringComparison.Ordinal));
            }, TimeSpan.FromSeconds(30), "the watchdog to evict the instance over its slice");
        }
        finally
        {
            await FakeNvmlAsync("process", "--gpu", gpu.Index.ToString(System.Globalization.CultureInfo.InvariantCulture), "--clear");
        }

        var events = await cluster.Services.ListEventsAsync(new ListEventsRequest { Service = "gpu_slice" });
        events.Events.Last(e => e.InstanceId == victim.Id && e.Type == "Restarted").Message
            .Should().Contain("30000 MiB").And.Contain("20480 MiB");
        var after = await cluster.WaitReadyAsync("gpu_slice", 3, TimeSpan.FromMinutes(1));
        after.Instances.Single(i => i.Id == victim.Id).Restarts.Should().BeGreaterThan(0);
    }

    [ClusterFact]
    public async Task E_Xid79_MovesWorkToTheHealthyGpu_AndClearBringsTheGpuBack()
    {
        var service = await cluster.WaitReadyAsync("gpu_slice", 3, TimeSpan.FromMinutes(2));
        var gpus = await GpusAsync();
        var busiest = service.Instances.Where(i => i.State == InstanceState.Ready).GroupBy(i => i.Gpu.GpuUuids.Single()).MaxBy(g => g.Count())!.Key;
        var broken = gpus.Single(g => g.Uuid == busiest);
        var healthy = gpus.Single(g => g.Uuid != broken.Uuid);
        var index = broken.Index.ToString(System.Globalization.CultureInfo.InvariantCulture);

        await FakeNvmlAsync("xid", "--gpu", index, "--code", "79");
        try
        {
            var clock = Stopwatch.StartNew();
            await cluster.WaitForAsync(async () =>
            {
                var described = await cluster.Services.DescribeServiceAsync(new ServiceRef { Name = "gpu_slice" });
                var ready = described.Instances.Where(i => i.State == InstanceState.Ready).ToList();
                var brokenShown = (await GpusAsync()).Single(g => g.Uuid == broken.Uuid);
                return !brokenShown.Healthy && ready.Count == 3 && ready.All(i => i.Gpu.GpuUuids.Single() == healthy.Uuid);
            }, TimeSpan.FromSeconds(15), "GPU 0 to show unhealthy and the slices to be Ready again on the healthy GPU within 15 s");
            clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(15));
            (await GpusAsync()).Single(g => g.Uuid == broken.Uuid).HealthReason.Should().NotBeEmpty();
        }
        finally
        {
            await FakeNvmlAsync("clear", "--gpu", index);
        }

        await cluster.WaitForAsync(async () => (await GpusAsync()).Single(g => g.Uuid == broken.Uuid).Healthy, TimeSpan.FromSeconds(30), "the cleared GPU to be healthy again");

        await CreateAsync("gpu_whole", instances: 1, """ "gpu": 1 """);
        var whole = await cluster.WaitReadyAsync("gpu_whole", 1, TimeSpan.FromMinutes(1));
        whole.Instances.Single().Gpu.GpuUuids.Single().Should().Be(broken.Uuid, "the GPU takes work again once it is healthy");
        await DeleteAsync("gpu_whole");
    }

    [ClusterFact]
    public async Task F_Desc_ShowsEachInstancesGpus_AndDeletingStopsTheMpsDaemons()
    {
        var (exit, stdout, _) = await Easctl.RunAsync(cluster, "desc", "gpu_slice", "-o", "json");
        exit.Should().Be(0);
        var instances = JsonNode.Parse(stdout)!["instances"]!.AsArray();
        instances.Should().NotBeEmpty().And.AllSatisfy(i =>
        {
            i!["gpus"]!.AsArray().Should().ContainSingle().Which!.GetValue<string>().Should().StartWith("GPU-");
            i["slice"]!["kind"]!.GetValue<string>().Should().Be("shared");
            i["slice"]!["memory_mib"]!.GetValue<long>().Should().Be(20480);
            i["slice"]!["core_percentage"]!.GetValue<int>().Should().Be(30);
        });
        var shared = instances[0]!["gpus"]![0]!.GetValue<string>();

        await DeleteAsync("gpu_slice");
        await cluster.WaitForAsync(() => Task.FromResult(!MpsDaemonRuns(shared)), TimeSpan.FromSeconds(30), "the unused MPS daemon to stop");
    }

    private bool MpsDaemonRuns(string gpuUuid)
    {
        var pidFile = Path.Combine(cluster.AgentStateDir, "mps", gpuUuid, "pipe", "nvidia-cuda-mps-control.pid");
        return File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid) && Directory.Exists($"/proc/{pid}");
    }

    private async Task CreateAsync(string name, int instances, string gpuFields)
    {
        var code = Path.Combine(Repo.Root, "examples/gpu/code");
        var spec = $$"""
            { "metadata": { "name": "{{name}}", "instance": {{instances}}, "cpu": 0.1, "memory": 128, "rpc": { "enable_sigterm": true }, {{gpuFields}} },
              "containers": [ { "image": "host", "script": "exec python3 /mnt/data/app.py", "port": 8000 } ],
              "storage": [ { "mount_path": "/mnt/data/", "host": { "path": "{{code}}", "readOnly": true } } ] }
            """;
        await cluster.Services.CreateServiceAsync(new CreateServiceRequest { SpecJson = spec });
    }

    private async Task DeleteAsync(string name)
    {
        await cluster.Services.DeleteServiceAsync(new ServiceRef { Name = name });
        await cluster.WaitForAsync(
            async () => (await cluster.Services.ListServicesAsync(new ListServicesRequest())).Services.All(s => s.Name != name),
            TimeSpan.FromSeconds(60),
            $"{name} to be deleted");
    }

    private async Task<IReadOnlyList<Gpu>> GpusAsync()
    {
        var nodes = await cluster.Services.ListNodesAsync(new ListNodesRequest());
        return [.. nodes.Nodes.Single(n => n.Name == cluster.NodeName).Gpus.Select(g => g.Gpu)];
    }

    private static async Task<JsonObject> AskAsync(InstanceInfo instance)
    {
        var body = await _http.GetStringAsync($"http://{instance.Ip}:{instance.Port}/");
        return JsonNode.Parse(body)!.AsObject();
    }

    private async Task FakeNvmlAsync(params string[] args)
    {
        var info = new ProcessStartInfo(Repo.FakeNvmlCli) { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("--state");
        info.ArgumentList.Add(cluster.FakeNvmlState);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info)!;
        var stderr = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        p.ExitCode.Should().Be(0, $"fake-nvml {string.Join(' ', args)} failed: {await stderr}");
    }
}
