using Eas.Node.Agent.Interop.Nvml;

namespace Eas.Node.Agent.Tests.Nvml;

[Collection(FakeNvmlCollection.Name)]
public sealed class NvmlProcessTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public void ComputeProcesses_Idle_Empty()
    {
        using var machine = new FakeMachine("2xH100-80GB");

        machine.Session.GetDevice(0).ComputeProcesses().Should().BeEmpty();
    }

    [Fact]
    public void ComputeProcesses_AddedWithTheCli_ListedOnTheirGpuOnly()
    {
        using var machine = new FakeMachine("2xH100-80GB");

        machine.Cli("process", "--gpu", "1", "--pid", "4242", "--used-mib", "1536");

        machine.Session.GetDevice(0).ComputeProcesses().Should().BeEmpty();
        machine.Session.GetDevice(1).ComputeProcesses().Should().Equal(new NvmlProcess(4242, 1536 * MiB, uint.MaxValue, uint.MaxValue));
    }

    [Fact]
    public void ComputeProcesses_ManyProcesses_AllReturnedAfterGrowingTheBuffer()
    {
        using var machine = new FakeMachine("2xH100-80GB");
        var pids = Enumerable.Range(1000, 37).ToList();
        foreach (var pid in pids)
        {
            machine.Cli("process", "--gpu", "0", "--pid", pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "--used-mib", "100");
        }

        var processes = machine.Session.GetDevice(0).ComputeProcesses();

        processes.Select(p => p.Pid).Should().BeEquivalentTo(pids);
        processes.Should().AllSatisfy(p => p.UsedBytes.Should().Be(100 * MiB));
    }

    [Fact]
    public void ComputeProcesses_AddsToUsedMemory()
    {
        using var machine = new FakeMachine("2xH100-80GB");
        var device = machine.Session.GetDevice(0);
        var before = device.Memory();

        machine.Cli("process", "--gpu", "0", "--pid", "777", "--used-mib", "2048");

        var after = device.Memory();
        (after.UsedBytes - before.UsedBytes).Should().Be(2048 * MiB);
        (after.FreeBytes + after.UsedBytes).Should().Be(after.TotalBytes);
    }

    [Fact]
    public void ProcessUtilization_SmFromTheStateFile_EmptyWhenNone()
    {
        using var machine = new FakeMachine("2xH100-80GB");
        var device = machine.Session.GetDevice(0);
        device.ProcessUtilization(0).Should().BeEmpty();

        File.WriteAllText(Path.Combine(machine.StateDir, "gpu0.processes"), "4242 1024 37\n4343 512 5\n");

        var samples = device.ProcessUtilization(0);
        samples.Select(s => (s.Pid, s.SmPercent)).Should().BeEquivalentTo([(4242, 37), (4343, 5)]);
        samples.Should().AllSatisfy(s => s.TimestampMicros.Should().BeGreaterThan(0));
    }
}
