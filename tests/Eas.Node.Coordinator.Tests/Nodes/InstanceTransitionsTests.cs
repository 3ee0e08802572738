using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Nodes;
using Eas.Node.Coordinator.Tests.Store;

namespace Eas.Node.Coordinator.Tests.Nodes;

public sealed class InstanceTransitionsTests
{
    private static readonly DateTimeOffset _now = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Apply_SameStatusTwice_SecondChangesNothing()
    {
        var instance = SqliteCoordinatorStoreTests.Instance("demo-1", "demo") with { Node = "n1" };
        var status = new InstanceStatus { InstanceId = "demo-1", State = InstanceState.Ready, Ip = "10.0.0.2", Port = 8000 };

        var (first, firstEvents) = InstanceTransitions.Apply(instance, status, "n1", _now);
        var (second, secondEvents) = InstanceTransitions.Apply(first, status, "n1", _now.AddSeconds(1));

        firstEvents.Select(e => e.Type).Should().Equal("Started", "Ready");
        second.Should().BeSameAs(first);
        secondEvents.Should().BeEmpty();
    }

    [Fact]
    public void Missing_RemovingInstance_Stopped()
    {
        var instance = SqliteCoordinatorStoreTests.Instance("demo-1", "demo") with { Node = "n1", State = InstanceState.Terminating, Removing = true };

        var (updated, events) = InstanceTransitions.Missing(instance, "n1", _now);

        updated.State.Should().Be(InstanceState.Stopped);
        events.Should().ContainSingle().Which.Type.Should().Be("Stopped");
    }

    [Fact]
    public void InstanceSpecBuilder_EmptyDirAndCommand_Mapped()
    {
        var spec = new Eas.Node.Spec.ServiceSpec
        {
            Name = "demo",
            MemoryMb = 2048,
            ShmSizeGb = 1,
            EnableSigterm = true,
            TerminationGracePeriodSeconds = 12,
            Container = new Eas.Node.Spec.ContainerSpec { Image = "host", Command = ["python3", "app.py"], Port = 8000, PythonRequirements = ["flask"] },
            Storage = [new Eas.Node.Spec.StorageSpec { MountPath = "/cache", EmptyDir = new Eas.Node.Spec.EmptyDirStorage("memory", 128) }],
        };

        var built = InstanceSpecBuilder.Build(spec);

        built.Command.Should().Equal("python3", "app.py");
        built.Script.Should().BeEmpty();
        built.ShmMib.Should().Be(1024);
        built.MemoryMib.Should().Be(2048);
        built.EnableSigterm.Should().BeTrue();
        built.TerminationGraceSeconds.Should().Be(12);
        built.PythonRequirements.Should().Equal("flask");
        built.Mounts.Should().ContainSingle().Which.EmptyDir.Should().BeEquivalentTo(new EmptyDirSource { Medium = "memory", SizeLimitMib = 128 });
    }

    [Fact]
    public void InstanceSpecBuilder_ParsedStorageKinds_MappedToMounts()
    {
        var parsed = Eas.Node.Spec.SpecParser.Parse("""
            { "metadata": { "name": "demo" },
              "containers": [{ "image": "host", "script": "python3 app.py", "port": 8000 }],
              "storage": [
                { "mount_path": "/data", "host": { "path": "/srv/data", "readOnly": true } },
                { "mount_path": "/mnt/oss", "oss": { "path": "oss://models/llm/qwen/", "endpoint": "minio.internal:9000", "secret": "team-a" } },
                { "mount_path": "/mnt/bucket", "oss": { "path": "oss://whole-bucket", "readOnly": true } },
                { "mount_path": "/mnt/nfs", "nfs": { "server": "10.0.0.5", "path": "/exports/shared/", "readOnly": true } },
                { "mount_path": "/mnt/nfs_rw", "nfs": { "server": "nfs.internal" } },
                { "mount_path": "/code", "git": { "repo": "https://git.example.com/team/app.git", "branch": "main", "commit": "ABCDEF1", "username": "bot", "password": "tok" } },
                { "mount_path": "/code2", "git": { "repo": "file:///srv/git/app.git" } },
                { "mount_path": "/model", "cache": { "path": "/mnt/oss/72b", "capacity": "200G" } },
                { "mount_path": "/scratch", "empty_dir": {} }
              ] }
            """);
        parsed.Errors.Should().BeEmpty();

        var mounts = InstanceSpecBuilder.Build(parsed.Spec!).Mounts;

        mounts.Select(m => (m.MountPath, m.SourceCase, m.ReadOnly)).Should().Equal(
            ("/data", Mount.SourceOneofCase.Host, true),
            ("/mnt/oss", Mount.SourceOneofCase.Oss, false),
            ("/mnt/bucket", Mount.SourceOneofCase.Oss, true),
            ("/mnt/nfs", Mount.SourceOneofCase.Nfs, true),
            ("/mnt/nfs_rw", Mount.SourceOneofCase.Nfs, false),
            ("/code", Mount.SourceOneofCase.Git, true),
            ("/code2", Mount.SourceOneofCase.Git, true),
            ("/model", Mount.SourceOneofCase.Cache, true),
            ("/scratch", Mount.SourceOneofCase.EmptyDir, false));
        mounts[1].Oss.Should().Be(new OssSource { Bucket = "models", Prefix = "llm/qwen", Endpoint = "minio.internal:9000", Secret = "team-a" });
        mounts[2].Oss.Should().Be(new OssSource { Bucket = "whole-bucket", Prefix = "", Endpoint = "", Secret = "" });
        mounts[3].Nfs.Should().Be(new NfsSource { Server = "10.0.0.5", Path = "/exports/shared" });
        mounts[4].Nfs.Should().Be(new NfsSource { Server = "nfs.internal", Path = "/" });
        mounts[5].Git.Should().Be(new GitSource { Repo = "https://git.example.com/team/app.git", Branch = "main", Commit = "abcdef1", Username = "bot", Password = "tok" });
        mounts[6].Git.Should().Be(new GitSource { Repo = "file:///srv/git/app.git", Branch = "master", Commit = "", Username = "", Password = "" });
        mounts[7].Cache.Should().Be(new CacheSource { SourcePath = "/mnt/oss/72b", CapacityMib = 200 * 1024 });
    }

    [Fact]
    public void InstanceSpecBuilder_GitAndCache_ReadOnlyEvenWhenBuiltByHand()
    {
        var spec = new Eas.Node.Spec.ServiceSpec
        {
            Name = "demo",
            Container = new Eas.Node.Spec.ContainerSpec { Image = "host", Script = "x", Port = 8000 },
            Storage =
            [
                new Eas.Node.Spec.StorageSpec { MountPath = "/src", Oss = new Eas.Node.Spec.OssStorage("b-1", "/a/b/", null, null, false) },
                new Eas.Node.Spec.StorageSpec { MountPath = "/code", Git = new Eas.Node.Spec.GitStorage("https://h/r.git", "master", null, null, null) },
                new Eas.Node.Spec.StorageSpec { MountPath = "/cached", Cache = new Eas.Node.Spec.CacheStorage("/src/a", 0) },
            ],
        };

        var mounts = InstanceSpecBuilder.Build(spec).Mounts;

        mounts[0].Oss.Prefix.Should().Be("a/b");
        mounts[0].ReadOnly.Should().BeFalse();
        mounts[1].ReadOnly.Should().BeTrue();
        mounts[2].ReadOnly.Should().BeTrue();
        mounts[2].Cache.CapacityMib.Should().Be(0);
    }

    [Fact]
    public void InstanceSpecBuilder_StorageWithoutSource_Throws()
    {
        var spec = new Eas.Node.Spec.ServiceSpec
        {
            Name = "demo",
            Container = new Eas.Node.Spec.ContainerSpec { Image = "host", Script = "x", Port = 8000 },
            Storage = [new Eas.Node.Spec.StorageSpec { MountPath = "/x" }],
        };

        FluentActions.Invoking(() => InstanceSpecBuilder.Build(spec)).Should().Throw<InvalidOperationException>().WithMessage("*/x*");
    }
}
