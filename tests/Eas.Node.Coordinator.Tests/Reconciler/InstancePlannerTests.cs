using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Reconciler;
using Eas.Node.Coordinator.Store;
using Eas.Node.Coordinator.Tests.Store;

namespace Eas.Node.Coordinator.Tests.Reconciler;

public sealed class InstancePlannerTests
{
    [Fact]
    public void Plan_FewerThanDesired_CreatesTheDifferenceAtOnce()
    {
        var plan = InstancePlanner.Plan(Service(version: 1, replicas: 3), [Instance("a", 1, InstanceState.Ready)]);

        plan.Create.Should().Be(2);
        plan.Remove.Should().BeEmpty();
    }

    [Fact]
    public void Plan_Surplus_RemovesNotReadyFirstThenNewest()
    {
        var live = new[]
        {
            Instance("old-ready", 1, InstanceState.Ready, minutes: 0),
            Instance("new-ready", 1, InstanceState.Ready, minutes: 5),
            Instance("starting", 1, InstanceState.Starting, minutes: 1),
        };

        var plan = InstancePlanner.Plan(Service(version: 1, replicas: 1), live);

        plan.Remove.Select(i => i.Id).Should().Equal("starting", "new-ready");
        plan.Create.Should().Be(0);
    }

    [Fact]
    public void Plan_StoppedOrDeleting_RemovesEverything()
    {
        var live = new[] { Instance("a", 1, InstanceState.Ready), Instance("b", 1, InstanceState.Ready) };

        InstancePlanner.Plan(Service(version: 1, replicas: 2) with { Stopped = true }, live).Remove.Should().HaveCount(2);
        InstancePlanner.Plan(Service(version: 1, replicas: 2) with { Deleting = true }, live).Remove.Should().HaveCount(2);
    }

    [Fact]
    public void Plan_RollingUpdate_SurgeOneAndOldRemovedOnlyWhenNewIsReady()
    {
        var service = Service(version: 2, replicas: 2);
        var old = new[] { Instance("o1", 1, InstanceState.Ready, minutes: 0), Instance("o2", 1, InstanceState.Ready, minutes: 1) };

        var start = InstancePlanner.Plan(service, old);
        start.Create.Should().Be(1, "one extra instance at a time");
        start.Remove.Should().BeEmpty("nothing new is ready yet");

        var newStarting = InstancePlanner.Plan(service, [.. old, Instance("n1", 2, InstanceState.Starting)]);
        newStarting.Create.Should().Be(0);
        newStarting.Remove.Should().BeEmpty();

        var newReady = InstancePlanner.Plan(service, [.. old, Instance("n1", 2, InstanceState.Ready)]);
        newReady.Remove.Select(i => i.Id).Should().Equal("o1");
        newReady.Create.Should().Be(1);
    }

    [Fact]
    public void Plan_RollingUpdateWithFailingNewVersion_OldKeepsServing()
    {
        var service = Service(version: 2, replicas: 1);

        var plan = InstancePlanner.Plan(service, [Instance("o1", 1, InstanceState.Ready), Instance("n1", 2, InstanceState.Failed)]);

        plan.Remove.Should().BeEmpty();
        plan.Create.Should().Be(0);
    }

    [Fact]
    public void Plan_OldVersionNotReady_RemovedAtOnce()
    {
        var plan = InstancePlanner.Plan(Service(version: 2, replicas: 1), [Instance("o1", 1, InstanceState.Failed)]);

        plan.Remove.Select(i => i.Id).Should().Equal("o1");
        plan.Create.Should().Be(1);
    }

    private static ServiceRecord Service(int version, int replicas) =>
        SqliteCoordinatorStoreTests.Service("demo", replicas) with { Version = version };

    private static InstanceRecord Instance(string id, int version, InstanceState state, int minutes = 0) =>
        SqliteCoordinatorStoreTests.Instance(id, "demo") with
        {
            ServiceVersion = version,
            State = state,
            Node = "n1",
            CreatedAt = new DateTimeOffset(2025, 1, 1, 0, minutes, 0, TimeSpan.Zero),
        };
}
