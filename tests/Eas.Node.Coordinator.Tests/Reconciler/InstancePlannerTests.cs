using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Reconciler;
using Eas.Node.Coordinator.Store;
using Eas.Node.Coordinator.Tests.Store;
using Eas.Node.Spec;

namespace Eas.Node.Coordinator.Tests.Reconciler;

public sealed class InstancePlannerTests
{
    [Fact]
    public void Plan_FewerThanDesired_CreatesTheDifferenceAtOnce()
    {
        var plan = Plan(Service(version: 1, replicas: 3), [Instance("a", 1, InstanceState.Ready)]);

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

        var plan = Plan(Service(version: 1, replicas: 1), live);

        plan.Remove.Select(i => i.Id).Should().Equal("starting", "new-ready");
        plan.Create.Should().Be(0);
    }

    [Fact]
    public void Plan_StoppedOrDeleting_RemovesEverything()
    {
        var live = new[] { Instance("a", 1, InstanceState.Ready), Instance("b", 1, InstanceState.Ready) };

        Plan(Service(version: 1, replicas: 2) with { Stopped = true }, live).Remove.Should().HaveCount(2);
        Plan(Service(version: 1, replicas: 2) with { Deleting = true }, live).Remove.Should().HaveCount(2);
    }

    [Fact]
    public void Plan_RollingUpdate_SurgeOneAndOldRemovedOnlyWhenNewIsReady()
    {
        var service = Service(version: 2, replicas: 2);
        var old = new[] { Instance("o1", 1, InstanceState.Ready, minutes: 0), Instance("o2", 1, InstanceState.Ready, minutes: 1) };

        var start = Plan(service, old);
        start.Create.Should().Be(1, "one extra instance at a time");
        start.Remove.Should().BeEmpty("nothing new is ready yet");

        var newStarting = Plan(service, [.. old, Instance("n1", 2, InstanceState.Starting)]);
        newStarting.Create.Should().Be(0);
        newStarting.Remove.Should().BeEmpty();

        var newReady = Plan(service, [.. old, Instance("n1", 2, InstanceState.Ready)]);
        newReady.Remove.Select(i => i.Id).Should().Equal("o1");
        newReady.Create.Should().Be(1);
    }

    [Fact]
    public void Plan_RollingUpdateWithFailingNewVersion_OldKeepsServing()
    {
        var service = Service(version: 2, replicas: 1);

        var plan = Plan(service, [Instance("o1", 1, InstanceState.Ready), Instance("n1", 2, InstanceState.Failed)]);

        plan.Remove.Should().BeEmpty();
        plan.Create.Should().Be(0);
    }

    [Fact]
    public void Plan_OldVersionNotReady_RemovedAtOnce()
    {
        var plan = Plan(Service(version: 2, replicas: 1), [Instance("o1", 1, InstanceState.Failed)]);

        plan.Remove.Select(i => i.Id).Should().Equal("o1");
        plan.Create.Should().Be(1);
    }

    [Fact]
    public void Plan_MaxUnavailable_StopsOldInstancesBeforeTheirReplacementsAreReady()
    {
        var service = Service(version: 2, replicas: 4);
        var old = Enumerable.Range(0, 4).Select(i => Instance($"o{i}", 1, InstanceState.Ready, minutes: i)).ToArray();
        var strategy = new RollingStrategy(new RolloutAmount(0, IsPercent: false), new RolloutAmount(2, IsPercent: false));

        var plan = Plan(service, old, strategy);

        plan.Remove.Select(i => i.Id).Should().Equal("o0", "o1");
        plan.Create.Should().Be(2, "the two freed places are filled with the new version at once");
    }

    [Fact]
    public void Plan_SurgeAsPercentage_RoundsUp()
    {
        var service = Service(version: 2, replicas: 4);
        var old = Enumerable.Range(0, 4).Select(i => Instance($"o{i}", 1, InstanceState.Ready, minutes: i)).ToArray();

        Plan(service, old, new RollingStrategy(new RolloutAmount(50, IsPercent: true), null)).Create.Should().Be(2);
        Plan(service, old, new RollingStrategy(new RolloutAmount(10, IsPercent: true), null)).Create.Should().Be(1, "10% of 4 rounds up to 1");
        Plan(service, old).Create.Should().Be(1, "EAS's default surge is 2%, at least 1");
    }

    [Fact]
    public void Plan_NodeDown_ReplacesEveryInstanceAtOnce_AndKeepsTheLostOnesUntilReplacementsAreReady()
    {
        var service = Service(version: 1, replicas: 3);
        var lost = Enumerable.Range(0, 3).Select(i => Instance($"l{i}", 1, InstanceState.Ready, minutes: i)).ToArray();
        var nodes = Nodes(("n1", NodeStatus.Down, false), ("n2", NodeStatus.Ready, false));

        var start = Plan(service, lost, nodes: nodes);
        start.Create.Should().Be(3, "a Down node runs nothing we can count on, so replacements do not wait for the surge");
        start.Remove.Should().BeEmpty("the lost instances may still be serving (only their agent may be gone)");

        var replaced = Plan(service, [.. lost, .. Enumerable.Range(0, 3).Select(i => Instance($"r{i}", 1, InstanceState.Ready, node: "n2"))], nodes: nodes);
        replaced.Remove.Select(i => i.Id).Should().BeEquivalentTo(["l0", "l1", "l2"]);
        replaced.Create.Should().Be(0);
    }

    [Fact]
    public void Plan_NodeBackBeforeReplacementsAreReady_KeepsItsInstances_AndDropsTheUnreadyReplacements()
    {
        var service = Service(version: 1, replicas: 2);
        var back = new[] { Instance("l0", 1, InstanceState.Ready), Instance("l1", 1, InstanceState.Ready) };
        var pending = new[] { Instance("r0", 1, InstanceState.Pending, minutes: 5, node: null), Instance("r1", 1, InstanceState.Pending, minutes: 5, node: null) };

        var plan = Plan(service, [.. back, .. pending], nodes: Nodes(("n1", NodeStatus.Ready, false)));

        plan.Remove.Select(i => i.Id).Should().BeEquivalentTo(["r0", "r1"]);
        plan.Create.Should().Be(0);
    }

    [Fact]
    public void Plan_DrainingNode_MovesInstancesAtTheSurgePace()
    {
        var service = Service(version: 1, replicas: 2);
        var here = new[] { Instance("d0", 1, InstanceState.Ready, minutes: 0), Instance("d1", 1, InstanceState.Ready, minutes: 1) };
        var nodes = Nodes(("n1", NodeStatus.Ready, true), ("n2", NodeStatus.Ready, false));

        var start = Plan(service, here, nodes: nodes);
        start.Create.Should().Be(1);
        start.Remove.Should().BeEmpty();

        var oneMoved = Plan(service, [.. here, Instance("m0", 1, InstanceState.Ready, node: "n2")], nodes: nodes);
        oneMoved.Remove.Select(i => i.Id).Should().Equal("d0");
        oneMoved.Create.Should().Be(1);
    }

    [Fact]
    public void Plan_PausedRollout_CreatesNothingMore_WhileOldInstancesServe()
    {
        var service = Service(version: 2, replicas: 2) with { RolloutPaused = "new instance n1 failed" };
        var live = new[] { Instance("o1", 1, InstanceState.Ready), Instance("o2", 1, InstanceState.Ready), Instance("n1", 2, InstanceState.Failed) };

        var plan = Plan(service, live);

        plan.Create.Should().Be(0);
        plan.Remove.Should().BeEmpty();
    }

    [Fact]
    public void Plan_RollbackToTheVersionStillServing_RemovesOnlyTheNewOnes()
    {
        // Rolled back from 2 to 1: the version 1 instances are current again and stay; the failed version 2 one goes.
        var service = Service(version: 1, replicas: 2);
        var live = new[] { Instance("o1", 1, InstanceState.Ready), Instance("o2", 1, InstanceState.Ready), Instance("n1", 2, InstanceState.Starting) };

        var plan = Plan(service, live);

        plan.Remove.Select(i => i.Id).Should().Equal("n1");
        plan.Create.Should().Be(0);
    }

    private static InstancePlan Plan(ServiceRecord service, IReadOnlyList<InstanceRecord> live, RollingStrategy? strategy = null, IReadOnlyDictionary<string, NodeRecord>? nodes = null) =>
        InstancePlanner.Plan(service, live, strategy ?? RollingStrategy.Default, nodes ?? Nodes(("n1", NodeStatus.Ready, false)));

    private static Dictionary<string, NodeRecord> Nodes(params (string Name, NodeStatus Status, bool Draining)[] nodes) =>
        nodes.ToDictionary(n => n.Name, n => new NodeRecord { Name = n.Name, Status = n.Status, Draining = n.Draining, Cordoned = n.Draining }, StringComparer.Ordinal);

    private static ServiceRecord Service(int version, int replicas) =>
        SqliteCoordinatorStoreTests.Service("demo", replicas) with { Version = version };

    private static InstanceRecord Instance(string id, int version, InstanceState state, int minutes = 0, string? node = "n1") =>
        SqliteCoordinatorStoreTests.Instance(id, "demo") with
        {
            ServiceVersion = version,
            State = state,
            Node = node,
            CreatedAt = new DateTimeOffset(2025, 1, 1, 0, minutes, 0, TimeSpan.Zero),
        };
}
