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
}
