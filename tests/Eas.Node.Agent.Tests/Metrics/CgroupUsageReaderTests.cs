using Eas.Node.Agent.Metrics;
using Eas.Node.Agent.Runtime;

namespace Eas.Node.Agent.Tests.Metrics;

/// <summary>The cgroup readers on fake cgroup trees: v2 (unified) and v1 / hybrid, as runc lays them out.</summary>
public sealed class CgroupUsageReaderTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("eas-cgroup-usage-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Read_V2_MemoryLimitAndCpuFromTheUnifiedDirectory()
    {
        var dir = Make("eas", "eas-i-1");
        Write(dir, "memory.current", "52428800\n");
        Write(dir, "memory.max", "268435456\n");
        Write(dir, "cpu.stat", "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 0\n");

        var usage = new CgroupUsageReader(_root, unified: true).Read("eas-i-1");

        usage.Should().Be(new CgroupUsage(52_428_800, 268_435_456, 2.5));
    }

    [Fact]
    public void Read_V2_MaxMeansNoLimit()
    {
        var dir = Make("eas", "eas-i-1");
        Write(dir, "memory.current", "4096\n");
        Write(dir, "memory.max", "max\n");
        Write(dir, "cpu.stat", "usage_usec 0\n");

        new CgroupUsageReader(_root, unified: true).Read("eas-i-1")!.Value.MemoryLimitBytes.Should().BeNull();
    }

    [Fact]
    public void Read_V1_MemoryAndCpuacctHierarchies()
    {
        var memory = Make("memory", "eas", "eas-i-1");
        Write(memory, "memory.usage_in_bytes", "104857600\n");
        Write(memory, "memory.limit_in_bytes", "536870912\n");
        var cpu = Make("cpuacct", "eas", "eas-i-1");
        Write(cpu, "cpuacct.usage", "1500000000\n");

        var usage = new CgroupUsageReader(_root, unified: false).Read("eas-i-1");

        usage.Should().Be(new CgroupUsage(104_857_600, 536_870_912, 1.5));
    }

    [Fact]
    public void Read_V1_CpuacctAsALinkToCpuCpuacct_AndUnlimitedMemory()
    {
        // The usual hybrid layout: "cpu,cpuacct" is the hierarchy, "cpuacct" a link to it.
        var cpu = Make("cpu,cpuacct", "eas", "eas-i-1");
        Write(cpu, "cpuacct.usage", "250000000\n");
        Directory.CreateSymbolicLink(Path.Combine(_root, "cpuacct"), Path.Combine(_root, "cpu,cpuacct"));
        var memory = Make("memory", "eas", "eas-i-1");
        Write(memory, "memory.usage_in_bytes", "8192\n");
        Write(memory, "memory.limit_in_bytes", "9223372036854771712\n");

        var usage = new CgroupUsageReader(_root, unified: false).Read("eas-i-1");

        usage.Should().Be(new CgroupUsage(8192, null, 0.25));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Read_NoCgroup_IsNull(bool unified)
    {
        new CgroupUsageReader(_root, unified).Read("eas-gone").Should().BeNull();
    }

    [Fact]
    public void Read_ThisHost_FindsNothingForAContainerThatDoesNotExist()
    {
        new CgroupUsageReader(new CgroupLayout()).Read("eas-no-such-container-" + Guid.NewGuid().ToString("N")).Should().BeNull();
    }

    private string Make(params string[] parts) => Directory.CreateDirectory(Path.Combine([_root, .. parts])).FullName;

    private static void Write(string dir, string file, string text) => File.WriteAllText(Path.Combine(dir, file), text);
}
