using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Storage;
using Eas.Node.Contracts.V1;

namespace Eas.Node.Agent.Tests.Storage;

public sealed class StorageMountsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eas-storage-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Resolve_HostAndEmptyDirs_BecomeBindsAndTmpfs()
    {
        var spec = new InstanceSpec { MemoryMib = 1024 };
        spec.Mounts.Add(new Mount { MountPath = "/mnt/data/", Host = new HostPathSource { Path = _dir }, ReadOnly = true });
        spec.Mounts.Add(new Mount { MountPath = "/cache", EmptyDir = new EmptyDirSource() });
        spec.Mounts.Add(new Mount { MountPath = "/fast", EmptyDir = new EmptyDirSource { Medium = "memory" } });
        spec.Mounts.Add(new Mount { MountPath = "/fast2", EmptyDir = new EmptyDirSource { Medium = "memory", SizeLimitMib = 100 } });

        var mounts = StorageMounts.Resolve(spec, "/state/instances/i-1");

        mounts[0].Should().BeEquivalentTo(new { Destination = "/mnt/data", Type = "bind", Source = _dir });
        mounts[0].Options.Should().Contain("ro");
        mounts[1].Source.Should().Be("/state/instances/i-1/empty/1");
        mounts[1].Options.Should().Contain("rw");
        mounts[2].Type.Should().Be("tmpfs");
        mounts[2].Options.Should().Contain("size=512m");
        mounts[3].Options.Should().Contain("size=100m");
    }

    [Fact]
    public void Resolve_MissingHostPath_FailsNamingTheMount()
    {
        var spec = new InstanceSpec();
        spec.Mounts.Add(new Mount { MountPath = "/mnt/data", Host = new HostPathSource { Path = "/nonexistent/eas" } });

        var act = () => StorageMounts.Resolve(spec, "/state/i");

        act.Should().Throw<InstanceFailedException>().WithMessage("storage[0] (/mnt/data): host path '/nonexistent/eas' does not exist*");
    }

    [Theory]
    [InlineData("/mnt/data/requirements.txt", "/srv/code/requirements.txt")]
    [InlineData("/mnt/data/models/x/req.txt", "/srv/models/req.txt")]
    [InlineData("/mnt/data", "/srv/code")]
    [InlineData("/mnt/other/req.txt", null)]
    public void MapToHost_UsesTheLongestHostMount(string inside, string? expected)
    {
        var spec = new InstanceSpec();
        spec.Mounts.Add(new Mount { MountPath = "/mnt/data/", Host = new HostPathSource { Path = "/srv/code" } });
        spec.Mounts.Add(new Mount { MountPath = "/mnt/data/models/x", Host = new HostPathSource { Path = "/srv/models" } });

        StorageMounts.MapToHost(spec, inside).Should().Be(expected);
    }
}
