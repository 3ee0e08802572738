using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Runtime;

namespace Eas.Node.Agent.Tests.Runtime;

public sealed class CgroupLayoutOomTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("eas-cgroup-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void OomKills_ReadsTheV1Counter_AndZeroWithoutACgroup()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_root, "memory", "eas", "eas-i-1")).FullName;
        File.WriteAllText(Path.Combine(dir, "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
        var layout = new CgroupLayout(_root);

        layout.OomKills("eas-i-1").Should().Be(2);
        layout.OomKills("eas-i-2").Should().Be(0, "no cgroup, nothing to report");
    }

    [Fact]
    public void ExitStatus_OomKilled_SaysSoAndHowToFixIt()
    {
        new ExitStatus(137, OomKilled: true).Describe().Should().Be(
            "OOMKilled: over its memory limit, the kernel killed it (killed by signal 9); raise metadata.memory or use less");
        new ExitStatus(137).Describe().Should().Be("killed by signal 9");
    }
}
