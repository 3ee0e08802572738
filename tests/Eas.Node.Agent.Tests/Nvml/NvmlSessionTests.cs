using Eas.Node.Agent.Interop.Nvml;
using NvmlApi = Eas.Node.Agent.Interop.Nvml.Nvml;

namespace Eas.Node.Agent.Tests.Nvml;

[Collection(FakeNvmlCollection.Name)]
public sealed class NvmlSessionTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public void TryOpen_NoLibraryAtPath_NullWithNoGpusReason()
    {
        var path = Path.Combine(Path.GetTempPath(), $"eas-no-nvml-{Guid.NewGuid():N}", "libnvidia-ml.so.1");

        using var session = NvmlApi.TryOpen(path, out var reason);

        session.Should().BeNull();
        reason.Should().Be($"no NVML library ({path} not found): this node has no GPUs");
    }

    [Fact]
    public void TryOpen_ProfileUnset_NullWithTheInitError()
    {
        _ = FakeNvml.LibraryPath;
        NvmlFake.SetEnvironment(null, null);

        using var session = NvmlApi.TryOpen(FakeNvml.LibraryPath, out var reason);

        session.Should().BeNull();
        reason.Should().StartWith("NVML did not initialise: nvmlInit_v2: ")
            .And.Contain("EAS_FAKE_NVML_PROFILE is not set", "nvmlErrorString's text for the failed init is passed on")
            .And.Contain("(NVML_ERROR_DRIVER_NOT_LOADED)");
    }

    [Fact]
    public void TwoH100_Versions_AreTheDrivers()
    {
        using var machine = new FakeMachine("2xH100-80GB");

        machine.Session.DriverVersion.Should().MatchRegex(@"^\d+\.\d+(\.\d+)?$");
        machine.Session.CudaDriverVersion.Should().BeGreaterThanOrEqualTo(12000);
        machine.Session.CudaDriverVersionText.Should().Be(
            $"{machine.Session.CudaDriverVersion / 1000}.{machine.Session.CudaDriverVersion % 1000 / 10}");
    }

    [Fact]
    public void TwoH100_Devices_DescribeTwoH100s()
    {
        using var machine = new FakeMachine("2xH100-80GB");

        var devices = machine.Devices();

        devices.Should().HaveCount(2);
        devices.Select(d => d.Name()).Should().AllSatisfy(name => name.Should().Contain("H100"));
        devices.Select(d => d.Uuid()).Should().OnlyHaveUniqueItems().And.AllSatisfy(uuid => uuid.Should().StartWith("GPU-"));
        devices.Select(d => d.MinorNumber()).Should().Equal(0, 1);
        devices.Select(d => d.CudaComputeCapability()).Should().AllBeEquivalentTo((9, 0));
        devices.Select(d => d.IsMigDevice()).Should().AllBeEquivalentTo(false);
        foreach (var device in devices)
        {
            var memory = device.Memory();
            memory.TotalBytes.Should().BeGreaterThan(79 * 1024 * MiB).And.BeLessThanOrEqualTo(81559 * MiB);
            (memory.FreeBytes + memory.UsedBytes).Should().Be(memory.TotalBytes);
            memory.ReservedBytes.Should().BeInRange(0, memory.UsedBytes);
        }
    }

    [Fact]
    public void TwoH100_PciInfo_DistinctBusIds()
    {
        using var machine = new FakeMachine("2xH100-80GB");

        var pci = machine.Devices().Select(d => d.PciInfo()).ToList();

        pci.Select(p => p.BusId).Should().OnlyHaveUniqueItems().And.AllSatisfy(id => id.Should().MatchRegex("^[0-9A-Fa-f]{8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\\.[0-7]$"));
        pci.Should().AllSatisfy(p => (p.PciDeviceId & 0xFFFF).Should().Be(0x10DE, "the low 16 bits are NVIDIA's vendor id"));
        pci.Should().AllSatisfy(p => p.BusId.Should().StartWith($"{p.Domain:X8}:{p.Bus:X2}:{p.Device:X2}", "the fields and the string agree"));
    }

    [Fact]
    public void Uuids_SameMachineSameUuids_OtherMachineOthers_AndTheyResolveBack()
    {
        var stateDir = Directory.CreateTempSubdirectory("eas-fake-nvml-").FullName;
        try
        {
            string[] first;
            using (var machine = new FakeMachine("2xH100-80GB", stateDir))
            {
                first = [.. machine.Devices().Select(d => d.Uuid())];
            }

            using (var again = new FakeMachine("2xH100-80GB", stateDir))
            {
                again.Devices().Select(d => d.Uuid()).Should().Equal(first);
                again.Session.GetDeviceByUuid(first[1]).Should().Be(again.Session.GetDevice(1));
            }

            using var other = new FakeMachine("2xH100-80GB");
            other.Devices().Select(d => d.Uuid()).Should().NotIntersectWith(first);
        }
        finally
        {
            Directory.Delete(stateDir, recursive: true);
        }
    }

    [Fact]
    public void GetDeviceByUuid_Unknown_ThrowsNotFound()
    {
        using var machine = new FakeMachine("2xH100-80GB");

        var act = () => machine.Session.GetDeviceByUuid("GPU-00000000-0000-0000-0000-000000000000");

        act.Should().Throw<NvmlException>().Which.Code.Should().Be(NvmlReturn.NotFound);
    }

    [Fact]
    public void GetDevice_PastTheCount_ThrowsInvalidArgumentWithTheFunctionName()
    {
        using var machine = new FakeMachine("2xH100-80GB");

        var act = () => machine.Session.GetDevice(2);

        var error = act.Should().Throw<NvmlException>().Which;
        error.Code.Should().Be(NvmlReturn.InvalidArgument);
        error.Function.Should().Be("nvmlDeviceGetHandleByIndex_v2");
        error.Message.Should().StartWith("nvmlDeviceGetHandleByIndex_v2: ").And.EndWith("(NVML_ERROR_INVALID_ARGUMENT)");
    }

    [Fact]
    public void Telemetry_PowerTemperatureUtilization_InPlausibleRanges()
    {
        using var machine = new FakeMachine("2xH100-80GB");
        var device = machine.Session.GetDevice(0);

        device.TemperatureCelsius().Should().BeInRange(1, 120);
        device.PowerMilliwatts().Should().BeInRange(1_000, 1_000_000);
        var utilization = device.Utilization();
        utilization.GpuPercent.Should().BeInRange(0, 100);
        utilization.MemoryPercent.Should().BeInRange(0, 100);
    }

    [Fact]
    public void Dispose_Twice_IsHarmless_AndLaterCallsSayDisposed()
    {
        var machine = new FakeMachine("2xH100-80GB");
        machine.Session.Dispose();

        machine.Dispose();

        var act = () => machine.Session.DeviceCount;
        act.Should().Throw<ObjectDisposedException>();
    }

    [Fact]
    public void TwoSessions_ShareOneInit_TheSecondSurvivesTheFirstsDispose()
    {
        using var machine = new FakeMachine("2xH100-80GB");
        var second = NvmlApi.TryOpen(FakeNvml.LibraryPath, out var reason);
        second.Should().NotBeNull(reason);

        second!.Dispose();

        machine.Session.DeviceCount.Should().Be(2);
    }

    [Fact]
    public void Session_UsedFromSeveralThreads_GivesTheSameAnswers()
    {
        using var machine = new FakeMachine("2xH100-80GB");
        var expected = machine.Devices().Select(d => (d.Uuid(), d.Memory().TotalBytes)).ToArray();
        var answers = new System.Collections.Concurrent.ConcurrentBag<(string, long)[]>();

        Parallel.For(0, 8, _ =>
        {
            for (var i = 0; i < 50; i++)
            {
                answers.Add([.. machine.Devices().Select(d => (d.Uuid(), d.Memory().TotalBytes))]);
            }
        });

        answers.Should().HaveCount(400).And.AllSatisfy(a => a.Should().Equal(expected));
    }
}
