using Eas.Node.Contracts.V1;
using Eas.Node.Functional.Tests.Infrastructure;

namespace Eas.Node.Functional.Tests;

/// <summary>easctl as a user runs it: a real process against the real coordinator.</summary>
[Collection(ClusterCollection.Name)]
public sealed class EasctlTests(Cluster cluster)
{
    [ClusterFact]
    public async Task Create_BadSpec_PrintsEveryErrorWithItsPath_AndStoresNothing()
    {
        var spec = Path.Combine(cluster.Dir, "bad.json");
        await File.WriteAllTextAsync(spec, """
            {
              "metadata": { "name": "bad_demo", "cpu": -1 },
              "containers": [{ "image": "host", "port": 8080 }],
              "storage": [
                { "mount_path": "data", "host": { "path": "/tmp" } },
                { "mount_path": "/mnt/../etc", "empty_dir": {} },
                { "mount_path": "/mnt/x", "floppy": { "path": "a" } }
              ]
            }
            """);

        var (exit, stdout, stderr) = await EasctlAsync("create", "-f", spec);

        exit.Should().NotBe(0);
        stderr.Should().Contain("metadata.cpu")
            .And.Contain("containers[0].port")
            .And.Contain("containers[0]")
            .And.Contain("storage[0].mount_path")
            .And.Contain("storage[1].mount_path")
            .And.Contain("storage[2]");
        stdout.Should().NotContain("created");
        var services = await cluster.Services.ListServicesAsync(new ListServicesRequest());
        services.Services.Should().NotContain(s => s.Name == "bad_demo");
    }

    [ClusterFact]
    public async Task Desc_UnknownService_FailsWithMessage()
    {
        var (exit, _, stderr) = await EasctlAsync("desc", "no_such_service");

        exit.Should().NotBe(0);
        stderr.Should().Contain("no_such_service");
    }

    [ClusterFact]
    public async Task Nodes_Json_ListsTheAgent()
    {
        var (exit, stdout, _) = await EasctlAsync("nodes", "-o", "json");

        exit.Should().Be(0);
        stdout.Should().Contain(cluster.NodeName).And.Contain("\"status\": \"Ready\"");
    }

    [ClusterFact]
    public async Task Nodes_Json_NodeWithoutNvml_HasNoGpus_AndSaysWhy()
    {
        // The CPU cluster's agent looks for libnvidia-ml.so.1, which this machine lacks: it starts anyway and serves CPU work.
        var (exit, stdout, _) = await EasctlAsync("nodes", "-o", "json");

        exit.Should().Be(0);
        var node = System.Text.Json.Nodes.JsonNode.Parse(stdout)!.AsArray().Single(n => n!["name"]!.GetValue<string>() == cluster.NodeName)!;
        node["gpus"]!.AsArray().Should().BeEmpty();
        node["gpu_unavailable_reason"]!.GetValue<string>().Should().Contain("libnvidia-ml.so.1");
    }

    [ClusterFact]
    public async Task Cordon_ShowsInNodes_AndUncordonUndoesIt()
    {
        try
        {
            var (exit, stdout, _) = await EasctlAsync("cordon", cluster.NodeName);
            exit.Should().Be(0);
            stdout.Should().Contain($"node {cluster.NodeName}: Cordoned");
            var (_, json, _) = await EasctlAsync("nodes", "-o", "json");
            var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsArray().Single(n => n!["name"]!.GetValue<string>() == cluster.NodeName)!;
            node["status"]!.GetValue<string>().Should().Be("Cordoned");
            node["cordoned"]!.GetValue<bool>().Should().BeTrue();
        }
        finally
        {
            var (exit, stdout, _) = await EasctlAsync("uncordon", cluster.NodeName);
            exit.Should().Be(0);
            stdout.Should().Contain($"node {cluster.NodeName}: Ready");
        }

        var (unknownExit, _, unknownErr) = await EasctlAsync("drain", "no-such-node");
        unknownExit.Should().NotBe(0);
        unknownErr.Should().Contain("node 'no-such-node' is not known");
    }

    [ClusterFact]
    public async Task Rollback_WithoutAnEarlierVersion_SaysHowToPickOne()
    {
        const string Spec = """{"metadata": {"name": "rollback_demo", "instance": 0}, "containers": [{"image": "host", "script": "true", "port": 8000}]}""";
        await cluster.Services.CreateServiceAsync(new CreateServiceRequest { SpecJson = Spec });
        try
        {
            var (exit, _, stderr) = await EasctlAsync("rollback", "rollback_demo");

            exit.Should().NotBe(0);
            stderr.Should().Contain("no earlier version to roll back to").And.Contain("--to");
        }
        finally
        {
            await cluster.Services.DeleteServiceAsync(new ServiceRef { Name = "rollback_demo" });
        }
    }

    private Task<(int Exit, string Stdout, string Stderr)> EasctlAsync(params string[] args) => Easctl.RunAsync(cluster, args);
}
