using Eas.Node.Agent.Interop.Nvml;

namespace Eas.Node.Agent.Tests.Nvml;

[Collection(FakeNvmlCollection.Name)]
public sealed class NvmlEventTests
{
    [Fact]
    public void Wait_AfterAnInjectedXid_ReturnsItForThatGpu()
    {
        using var machine = new FakeMachine("2xH100-80GB");
        var devices = machine.Devices();
        using var events = machine.Session.CreateEventSet();
        devices.Should().AllSatisfy(d => events.RegisterXidEvents(d).Should().BeTrue());

        machine.Cli("xid", "--gpu", "1", "--code", "79");

        var xid = events.Wait(TimeSpan.FromSeconds(10));
        xid.Should().NotBeNull("the XID was written before the wait began");
        xid!.Value.Xid.Should().Be(79);
        xid.Value.EventType.Should().Be(NvmlEventTypes.XidCriticalError);
        xid.Value.Device.Should().Be(devices[1]);
        xid.Value.GpuInstanceId.Should().Be(uint.MaxValue);
        xid.Value.ComputeInstanceId.Should().Be(uint.MaxValue);
    }

    [Fact]
    public void Wait_XidInAMigInstance_CarriesTheInstanceIds()
    {
        using var machine = new FakeMachine("1xH100-80GB-MIG");
        var gpu = machine.Session.GetDevice(0);
        var mig = gpu.MigDevices()[^1];
        var (gi, ci) = (mig.GpuInstanceId(), mig.ComputeInstanceId());
        using var events = machine.Session.CreateEventSet();
        events.RegisterXidEvents(gpu).Should().BeTrue();

        machine.Cli("xid", "--gpu", "0", "--code", "31", "--gi", $"{gi}", "--ci", $"{ci}");

        var xid = events.Wait(TimeSpan.FromSeconds(10));
        xid.Should().Be(new NvmlEvent(gpu, NvmlEventTypes.XidCriticalError, 31, (uint)gi, (uint)ci));
        gpu.Uuid().Should().StartWith("GPU-", "XID 31 (a fault in one instance's work) leaves the GPU usable");
    }

    [Fact]
    public void Wait_NothingHappens_NullAtTheTimeout()
    {
        using var machine = new FakeMachine("2xH100-80GB");
        using var events = machine.Session.CreateEventSet();
        events.RegisterXidEvents(machine.Session.GetDevice(0)).Should().BeTrue();

        events.Wait(TimeSpan.FromMilliseconds(200)).Should().BeNull();
    }

    [Fact]
    public void Wait_XidOnAnUnregisteredGpu_NotDelivered()
    {
        using var machine = new FakeMachine("2xH100-80GB");
        using var events = machine.Session.CreateEventSet();
        events.RegisterXidEvents(machine.Session.GetDevice(0)).Should().BeTrue();

        machine.Cli("xid", "--gpu", "1", "--code", "48");

        events.Wait(TimeSpan.FromMilliseconds(500)).Should().BeNull();
    }

    [Fact]
    public void LostGpu_CallsThrowGpuIsLost_WithNvmlsText_UntilCleared()
    {
        using var machine = new FakeMachine("2xH100-80GB");
        var device = machine.Session.GetDevice(1);
        var healthy = device.Memory();

        machine.Cli("lost", "--gpu", "1");

        var error = device.Invoking(d => d.Memory()).Should().Throw<NvmlException>().Which;
        error.Code.Should().Be(NvmlReturn.GpuIsLost);
        error.Function.Should().StartWith("nvmlDeviceGetMemoryInfo");
        // nvmlErrorString(NVML_ERROR_GPU_IS_LOST) is "GPU is lost" in NVIDIA's library and in the fake.
        error.Message.Should().Be($"{error.Function}: GPU is lost (NVML_ERROR_GPU_IS_LOST)");
        machine.Session.GetDevice(0).Memory().TotalBytes.Should().Be(healthy.TotalBytes, "only GPU 1 fell off the bus");

        machine.Cli("clear", "--gpu", "1");

        device.Memory().TotalBytes.Should().Be(healthy.TotalBytes);
    }

    [Fact]
    public void Wait_WhenARegisteredGpuIsLost_ThrowsGpuIsLost()
    {
        using var machine = new FakeMachine("2xH100-80GB");
        using var events = machine.Session.CreateEventSet();
        events.RegisterXidEvents(machine.Session.GetDevice(0)).Should().BeTrue();

        machine.Cli("lost", "--gpu", "0");

        events.Invoking(e => e.Wait(TimeSpan.FromSeconds(5))).Should().Throw<NvmlException>()
            .Which.Code.Should().Be(NvmlReturn.GpuIsLost);
    }

    [Fact]
    public void EventSet_DisposeTwice_ThenWaitSaysDisposed()
    {
        using var machine = new FakeMachine("2xH100-80GB");
        var events = machine.Session.CreateEventSet();

        events.Dispose();
        events.Dispose();

        events.Invoking(e => e.Wait(TimeSpan.Zero)).Should().Throw<ObjectDisposedException>();
    }
}
