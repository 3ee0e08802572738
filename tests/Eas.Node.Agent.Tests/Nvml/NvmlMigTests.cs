using Eas.Node.Agent.Interop.Nvml;

namespace Eas.Node.Agent.Tests.Nvml;

[Collection(FakeNvmlCollection.Name)]
public sealed class NvmlMigTests
{
    private const string MigProfile = "1xH100-80GB-MIG";
    private const int OneSliceProfileIndex = 0;      // NVML_GPU_INSTANCE_PROFILE_1_SLICE
    private const int OneSliceComputeProfileIndex = 0; // NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE
    private const long MiB = 1024 * 1024;

    [Fact]
    public void MigGpu_MigDevices_HaveMigUuidsMemoryAndTheirParent()
    {
        using var machine = new FakeMachine(MigProfile);
        var gpu = machine.Session.GetDevice(0);

        gpu.MigMode().Should().Be((true, true));
        gpu.MaxMigDeviceCount().Should().BeGreaterThan(0);
        var migs = gpu.MigDevices();

        migs.Should().NotBeEmpty();
        migs.Select(m => m.Uuid()).Should().OnlyHaveUniqueItems().And.AllSatisfy(uuid => uuid.Should().StartWith("MIG-"));
        foreach (var mig in migs)
        {
            mig.IsMigDevice().Should().BeTrue();
            mig.ParentDevice().Uuid().Should().Be(gpu.Uuid());
            mig.Memory().TotalBytes.Should().BeInRange(1, gpu.Memory().TotalBytes - 1);
            machine.Session.GetDeviceByUuid(mig.Uuid()).Uuid().Should().Be(mig.Uuid());
        }

        migs.Select(m => (m.GpuInstanceId(), m.ComputeInstanceId())).Should().OnlyHaveUniqueItems();
    }

    [Fact]
    public void MigGpu_GpuInstanceProfiles_OneSliceIsTheSmallest_UnknownIndexIsNull()
    {
        using var machine = new FakeMachine(MigProfile);
        var gpu = machine.Session.GetDevice(0);

        var oneSlice = gpu.GpuInstanceProfile(OneSliceProfileIndex);
        var sevenSlice = gpu.GpuInstanceProfile(0x4);    // NVML_GPU_INSTANCE_PROFILE_7_SLICE

        oneSlice.Should().NotBeNull();
        oneSlice!.SliceCount.Should().Be(1);
        oneSlice.Name.Should().Contain("1g.");
        oneSlice.InstanceCount.Should().Be(7);
        sevenSlice!.SliceCount.Should().Be(7);
        sevenSlice.MemoryMib.Should().BeGreaterThan(oneSlice.MemoryMib * 6);
        gpu.GpuInstanceProfile(0x40).Should().BeNull();
    }

    [Fact]
    public void MigGpu_DestroyAndRecreateGpuAndComputeInstance_MigDeviceGoesAndComesBack()
    {
        using var machine = new FakeMachine(MigProfile);
        var gpu = machine.Session.GetDevice(0);
        var profile = gpu.GpuInstanceProfile(OneSliceProfileIndex)!;
        gpu.GpuInstanceRemainingCapacity(profile.Id).Should().Be(0, $"the {MigProfile} layout uses every memory slice");
        var existing = gpu.GpuInstances(profile.Id);
        existing.Should().HaveCount(2, $"the {MigProfile} layout has two {profile.Name}");
        var all = gpu.MigDevices().Select(m => m.Uuid()).ToHashSet();

        var victim = existing[0];
        var victimId = victim.Info().Id;
        victim.Invoking(g => g.Destroy()).Should().Throw<NvmlException>().Which.Code.Should().Be(NvmlReturn.InUse, "a compute instance is still in it");
        var victimCi = victim.ComputeInstances(OneSliceComputeProfileIndex).Should().ContainSingle().Subject;
        victimCi.Info().GpuInstance.Should().Be(victim);
        victimCi.Destroy();
        victim.Destroy();

        gpu.GpuInstanceRemainingCapacity(profile.Id).Should().Be(1);
        var remaining = gpu.MigDevices().Select(m => m.Uuid()).ToHashSet();
        remaining.Should().HaveCount(all.Count - 1).And.BeSubsetOf(all);

        var gi = gpu.CreateGpuInstance(profile.Id);
        var giInfo = gi.Info();
        giInfo.ProfileId.Should().Be(profile.Id);
        giInfo.Id.Should().Be(victimId, "the only free placement is the one just released");
        giInfo.Device.Uuid().Should().Be(gpu.Uuid());
        gpu.GpuInstanceRemainingCapacity(profile.Id).Should().Be(0);
        gpu.GpuInstances(profile.Id).Should().Contain(gi);

        var ci = gi.CreateComputeInstance(OneSliceComputeProfileIndex);
        var ciInfo = ci.Info();
        ciInfo.GpuInstance.Should().Be(gi);
        ciInfo.Device.Uuid().Should().Be(gpu.Uuid());
        gi.ComputeInstances(ciInfo.ProfileId).Should().Contain(ci);

        var added = gpu.MigDevices().Where(m => !remaining.Contains(m.Uuid())).Should().ContainSingle().Subject;
        added.GpuInstanceId().Should().Be(giInfo.Id);
        added.ComputeInstanceId().Should().Be(ciInfo.Id);
        added.Memory().TotalBytes.Should().BeInRange((profile.MemoryMib - 1024) * MiB, profile.MemoryMib * MiB);
    }

    [Fact]
    public void NonMigGpu_EnableMig_CreateInstance_ThenTearDownAndDisable()
    {
        using var machine = new FakeMachine("2xH100-80GB");
        var gpu = machine.Session.GetDevice(0);
        gpu.MigMode().Should().Be((false, false));
        gpu.MigDevices().Should().BeEmpty();

        gpu.SetMigMode(true);
        gpu.MigMode().Pending.Should().BeTrue();
        var profile = gpu.GpuInstanceProfile(OneSliceProfileIndex)!;
        var gi = gpu.CreateGpuInstance(profile.Id);
        var ci = gi.CreateComputeInstance(OneSliceComputeProfileIndex);
        gpu.MigDevices().Should().ContainSingle().Which.GpuInstanceId().Should().Be(gi.Info().Id);
        gpu.Invoking(g => g.SetMigMode(false)).Should().Throw<NvmlException>().Which.Code.Should().Be(NvmlReturn.InUse);

        ci.Destroy();
        gi.Destroy();
        gpu.SetMigMode(false);

        gpu.MigMode().Should().Be((false, false));
        machine.Session.GetDevice(1).MigMode().Should().Be((false, false), "only GPU 0 was switched");
    }

    [Fact]
    public void MigDevice_Processes_CarryTheirInstanceIds()
    {
        using var machine = new FakeMachine(MigProfile);
        var mig = machine.Session.GetDevice(0).MigDevices()[0];
        var (gi, ci) = (mig.GpuInstanceId(), mig.ComputeInstanceId());

        File.WriteAllText(Path.Combine(machine.StateDir, "gpu0.processes"), $"4242 1024 10 {gi} {ci}\n");

        mig.ComputeProcesses().Should().Equal(new NvmlProcess(4242, 1024 * MiB, (uint)gi, (uint)ci));
    }
}
