using Eas.Node.Agent.Gpus;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Runtime;
using Eas.Node.Contracts.V1;

namespace Eas.Node.Agent.Tests.Gpus;

public sealed class GpuDeviceNodesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eas-gpu-nodes-").FullName;

    private static readonly GpuDescription _gpu0 = new(0, "GPU-aaaa", "NVIDIA H100 80GB HBM3", 0, []);
    private static readonly GpuDescription _gpu1 = new(1, "GPU-bbbb", "NVIDIA H100 80GB HBM3", 3,
        [new MigDeviceDescription("MIG-cccc", "3g.40gb", 40192, 3, GpuInstanceId: 2, ComputeInstanceId: 0)]);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void WholeGpu_GetsOnlyItsNode_Control_AndUvmWhenTheDriverHasIt()
    {
        var procDevices = Write("devices", "Character devices:\n  1 mem\n195 nvidia-frontend\n509 nvidia-uvm\n510 nvidia-caps\n\nBlock devices:\n  8 sd\n");

        var devices = GpuDeviceNodes.For(Whole("GPU-bbbb"), Find, procDevices, Path.Combine(_dir, "none"));

        devices.Should().Equal(
            new OciDevice("/dev/nvidia3", 195, 3),
            new OciDevice("/dev/nvidiactl", 195, 255),
            new OciDevice("/dev/nvidia-uvm", 509, 0),
            new OciDevice("/dev/nvidia-uvm-tools", 509, 1));
    }

    [Fact]
    public void MigDevice_GetsItsGpuAndComputeInstanceCapabilities()
    {
        var procDevices = Write("devices", "Character devices:\n195 nvidia\n510 nvidia-caps\n");
        var migMinors = Write("mig-minors", "gpu3/gi1/access 30\ngpu3/gi2/access 39\ngpu3/gi2/ci0/access 40\ngpu3/gi2/ci1/access 41\n");
        var allocation = new GpuAllocation { Kind = "mig", MigUuid = "MIG-cccc", MemoryMib = 40192, CorePercentage = 42 };
        allocation.GpuUuids.Add("GPU-bbbb");

        var devices = GpuDeviceNodes.For(allocation, Find, procDevices, migMinors);

        devices.Should().Contain(new OciDevice("/dev/nvidia-caps/nvidia-cap39", 510, 39))
            .And.Contain(new OciDevice("/dev/nvidia-caps/nvidia-cap40", 510, 40))
            .And.NotContain(d => d.Minor == 30 || d.Minor == 41);
        GpuDeviceNodes.Environment(allocation)["CUDA_VISIBLE_DEVICES"].Should().Be("MIG-cccc");
    }

    [Fact]
    public void GpuNotOnThisNode_FailsTheInstanceWithAReason()
    {
        var act = () => GpuDeviceNodes.For(Whole("GPU-zzzz"), Find, Path.Combine(_dir, "none"), Path.Combine(_dir, "none"));

        act.Should().Throw<InstanceFailedException>().WithMessage("*GPU-zzzz*not on this node*");
    }

    [Fact]
    public void Bundle_ListsAndAllowsExactlyTheGpuDevices_AndThePlatformEnvironmentWins()
    {
        var assignment = new InstanceAssignment { InstanceId = "svc-1", Service = "svc", Spec = new InstanceSpec { Script = "true", Port = 8000 } };
        assignment.Spec.Env["CUDA_VISIBLE_DEVICES"] = "0,1";
        var devices = new[] { new OciDevice("/dev/nvidia0", 195, 0), new OciDevice("/dev/nvidiactl", 195, 255) };
        var environment = GpuDeviceNodes.Environment(Whole("GPU-aaaa"));

        var config = OciBundleWriter.Build(assignment, [], "", "/state/tmp", [], devices, environment);

        config["linux"]!["devices"]!.AsArray().Select(d => d!["path"]!.GetValue<string>()).Should().Equal("/dev/nvidia0", "/dev/nvidiactl");
        var rules = config["linux"]!["resources"]!["devices"]!.AsArray();
        rules[0]!["allow"]!.GetValue<bool>().Should().BeFalse("everything else stays denied");
        rules.Skip(1).Select(r => (r!["major"]!.GetValue<long>(), r["minor"]!.GetValue<long>(), r["allow"]!.GetValue<bool>()))
            .Should().Equal((195L, 0L, true), (195L, 255L, true));
        var env = config["process"]!["env"]!.AsArray().Select(e => e!.GetValue<string>()).ToList();
        env.Should().Contain("CUDA_VISIBLE_DEVICES=GPU-aaaa").And.Contain("NVIDIA_VISIBLE_DEVICES=GPU-aaaa").And.NotContain("CUDA_VISIBLE_DEVICES=0,1");
    }

    private static GpuDescription? Find(string uuid) => new[] { _gpu0, _gpu1 }.FirstOrDefault(g => g.Uuid == uuid);

    private static GpuAllocation Whole(string uuid)
    {
        var allocation = new GpuAllocation { Kind = "whole", MemoryMib = 81559, CorePercentage = 100 };
        allocation.GpuUuids.Add(uuid);
        return allocation;
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }
}
