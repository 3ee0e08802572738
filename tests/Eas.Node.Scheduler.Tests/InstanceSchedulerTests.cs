using static Eas.Node.Scheduler.Tests.SchedulerHarness;

namespace Eas.Node.Scheduler.Tests;

public sealed class InstanceSchedulerTests
{
    [Fact]
    public void Schedule_RequestFits_PlacesItOnTheNode()
    {
        var harness = new SchedulerHarness().Node("n1");

        var plan = harness.Schedule(Request("i1", cpuMillis: 4000, memoryMib: 8192));

        plan.Failures.Should().BeEmpty();
        plan.Placements.Should().ContainSingle().Which.Should().BeEquivalentTo(new { InstanceId = "i1", Node = "n1" });
    }

    [Fact]
    public void Schedule_NoNodeBigEnough_FailureCountsReasonsPerNode()
    {
        var harness = new SchedulerHarness()
            .Node("a", cpuMillis: 1000)
            .Node("b", cpuMillis: 1500)
            .Node("c", cpuMillis: 8000, schedulable: false);

        var plan = harness.Schedule(Request("i1", cpuMillis: 2000, memoryMib: 4096));

        plan.Placements.Should().BeEmpty();
        plan.Failures.Should().ContainSingle().Which.Should().Be(new PlacementFailure(
            "i1", "no node with 2000m CPU and 4096 MiB memory free; 3 nodes checked: 1 not schedulable, 2 short of CPU"));
    }

    [Fact]
    public void Schedule_MemoryShort_SaysShortOfMemory()
    {
        var harness = new SchedulerHarness().Node("a", memoryMib: 1024);

        var plan = harness.Schedule(Request("i1", memoryMib: 2048));

        plan.Failures.Single().Reason.Should().EndWith("1 node checked: 1 short of memory");
    }

    [Fact]
    public void Schedule_LaterRequest_SeesEarlierPlacementsOfTheSamePlan()
    {
        var harness = new SchedulerHarness().Node("a", cpuMillis: 2000);

        var plan = harness.Schedule(Request("i1", cpuMillis: 1500), Request("i2", cpuMillis: 1500));

        plan.Placements.Select(p => p.InstanceId).Should().Equal("i1");
        plan.Failures.Single().Should().Be(new PlacementFailure("i2", "no node with 1500m CPU and 1024 MiB memory free; 1 node checked: 1 short of CPU"));
    }

    [Fact]
    public void Schedule_ExistingInstances_CountAgainstCapacity()
    {
        var harness = new SchedulerHarness()
            .Node("a", cpuMillis: 4000)
            .Node("b", cpuMillis: 4000)
            .Placed("old", "other", "a", 3500, 512);

        var plan = harness.Schedule(Request("i1", cpuMillis: 1000));

        NodeOf(plan, "i1").Should().Be("b");
    }

    [Fact]
    public void Schedule_HostPortTakenOnOneNode_PicksAnotherNode()
    {
        var harness = new SchedulerHarness()
            .Node("a")
            .Node("b", cpuMillis: 1000, memoryMib: 1024)
            .Placed("old", "other", "a", 0, 0, 8000);

        var plan = harness.Schedule(Request("i1", service: "svc", hostPorts: [8000]));

        NodeOf(plan, "i1").Should().Be("b", "node a holds host port 8000 although it has more room");
    }

    [Fact]
    public void Schedule_HostPortTakenEverywhere_FailureNamesThePort()
    {
        var harness = new SchedulerHarness().Node("a").Node("b");

        var plan = harness.Schedule(
            Request("i1", service: "x", hostPorts: [8000]),
            Request("i2", service: "y", hostPorts: [8000]),
            Request("i3", service: "z", hostPorts: [8000, 8001]));

        plan.Placements.Select(p => p.Node).Should().BeEquivalentTo(["a", "b"]);
        plan.Failures.Single().Should().Be(new PlacementFailure(
            "i3", "no node with 1000m CPU, 1024 MiB memory and host ports 8000, 8001 free; 2 nodes checked: 2 with a requested host port taken"));
    }

    [Fact]
    public void Schedule_ReplicasOfOneService_SpreadAcrossNodesBeforeStacking()
    {
        // The big node would win on free share alone; spread comes first.
        var harness = new SchedulerHarness()
            .Node("big", cpuMillis: 64000, memoryMib: 262144)
            .Node("small1", cpuMillis: 2000, memoryMib: 2048)
            .Node("small2", cpuMillis: 2000, memoryMib: 2048);

        var plan = harness.Schedule(Request("r1"), Request("r2"), Request("r3"), Request("r4"));

        plan.Placements.Take(3).Select(p => p.Node).Should().OnlyHaveUniqueItems();
        NodeOf(plan, "r4").Should().Be("big", "with one replica everywhere, the emptiest node takes the fourth");
    }

    [Fact]
    public void Schedule_OtherServicesOnNode_DoNotCountForSpread()
    {
        var harness = new SchedulerHarness()
            .Node("a", cpuMillis: 16000, memoryMib: 32768)
            .Node("b", cpuMillis: 4000, memoryMib: 8192)
            .Placed("x1", "other", "a", 1000, 1024)
            .Placed("s1", "svc", "b", 1000, 1024);

        var plan = harness.Schedule(Request("s2", service: "svc"));

        NodeOf(plan, "s2").Should().Be("a");
    }

    [Fact]
    public void Schedule_EqualSpread_PrefersLeastAllocatedNode()
    {
        var harness = new SchedulerHarness()
            .Node("a", cpuMillis: 4000, memoryMib: 8192)
            .Node("b", cpuMillis: 4000, memoryMib: 8192)
            .Placed("x1", "other", "a", 2000, 4096);

        var plan = harness.Schedule(Request("i1"));

        NodeOf(plan, "i1").Should().Be("b");
        plan.Placements.Single().Score.Should().BeApproximately((0.75 + 0.875) / 2, 1e-9);
    }

    [Fact]
    public void Schedule_IdenticalNodes_TieBreaksByNodeName()
    {
        var harness = new SchedulerHarness().Node("node-c").Node("node-a").Node("node-b");

        var plan = harness.Schedule(Request("i1"));

        NodeOf(plan, "i1").Should().Be("node-a");
    }

    [Fact]
    public void Schedule_NodeSelector_PlacesOnlyOnMatchingNodes()
    {
        var gpu = new Dictionary<string, string> { ["gpu"] = "a100", ["zone"] = "z1" };
        var harness = new SchedulerHarness()
            .Node("cpu-only", cpuMillis: 64000)
            .Node("gpu-box", labels: gpu)
            .Node("gpu-other", labels: new Dictionary<string, string> { ["gpu"] = "t4" });

        var plan = harness.Schedule(Request("i1", selector: new Dictionary<string, string> { ["gpu"] = "a100" }));

        NodeOf(plan, "i1").Should().Be("gpu-box");
    }

    [Fact]
    public void Schedule_NodeSelectorMatchesNothing_FailureNamesTheLabels()
    {
        var harness = new SchedulerHarness().Node("a").Node("b", schedulable: false);

        var plan = harness.Schedule(Request("i1", selector: new Dictionary<string, string> { ["zone"] = "z9", ["gpu"] = "a100" }));

        plan.Failures.Single().Reason.Should().Be(
            "no node with 1000m CPU and 1024 MiB memory free, labelled gpu=a100, zone=z9; 2 nodes checked: 1 not schedulable, 1 without the selected labels");
    }

    [Fact]
    public void Schedule_UnschedulableNode_GetsNothingButKeepsItsInstances()
    {
        var harness = new SchedulerHarness()
            .Node("cordoned", cpuMillis: 64000, schedulable: false)
            .Node("small", cpuMillis: 1000)
            .Placed("old", "svc", "cordoned", 1000, 1024);

        var plan = harness.Schedule(Request("i1"), Request("i2"));

        NodeOf(plan, "i1").Should().Be("small");
        plan.Failures.Single().Reason.Should().EndWith("2 nodes checked: 1 not schedulable, 1 short of CPU");
    }

    [Fact]
    public void Schedule_NoNodes_SaysTheClusterIsEmpty()
    {
        var plan = new SchedulerHarness().Schedule(Request("i1"));

        plan.Failures.Single().Reason.Should().Be(
            "no node with 1000m CPU and 1024 MiB memory free; 0 nodes checked: the cluster has no nodes; start an agent or check that agents reach the coordinator");
    }

    [Fact]
    public void Schedule_InstanceIdAlreadyPlaced_FailsAndPlacesTheRest()
    {
        var harness = new SchedulerHarness().Node("a").Placed("i1", "svc", "a", 100, 100);

        var plan = harness.Schedule(Request("i1"), Request("i2"), Request("i2"));

        plan.Placements.Select(p => p.InstanceId).Should().Equal("i2");
        plan.Failures.Select(f => f.Reason).Should().Equal(
            "instance i1 is already placed on node a; give each instance a new id",
            "instance i2 is already placed on node a; give each instance a new id");
    }

    [Theory]
    [InlineData(-1, 10, new int[0], "invalid request: -1m CPU and 10 MiB memory; both must be 0 or more")]
    [InlineData(1, 10, new[] { 0 }, "invalid request: host port 0 is outside 1-65535")]
    [InlineData(1, 10, new[] { 8000, 8000 }, "invalid request: host port 8000 is listed twice")]
    public void Schedule_MalformedRequest_FailsWithTheRule(long cpu, long memory, int[] ports, string reason)
    {
        var plan = new SchedulerHarness().Node("a").Schedule(Request("bad", cpuMillis: cpu, memoryMib: memory, hostPorts: ports));

        plan.Failures.Should().Equal(new PlacementFailure("bad", reason));
    }

    [Fact]
    public void Schedule_InstanceOnUnknownNode_IsIgnored()
    {
        var harness = new SchedulerHarness().Node("a", cpuMillis: 1000).Placed("ghost", "svc", "gone", 1000, 1024, 8000);

        var plan = harness.Schedule(Request("i1", hostPorts: [8000]));

        NodeOf(plan, "i1").Should().Be("a");
    }

    [Fact]
    public void Schedule_DuplicateNodeNames_Throws()
    {
        var harness = new SchedulerHarness().Node("a").Node("a");

        var act = () => harness.Schedule(Request("i1"));

        act.Should().Throw<ArgumentException>().WithMessage("*node 'a' twice*");
    }

    [Fact]
    public void Schedule_SameInputInAnyNodeOrder_GivesTheSamePlan()
    {
        var nodes = Enumerable.Range(0, 5).Select(i => new NodeSnapshot($"n{i}", 4000, 8192, new Dictionary<string, string>(), true)).ToList();
        var requests = Enumerable.Range(0, 12).Select(i => Request($"i{i}", service: $"s{i % 3}", cpuMillis: 500 + (i * 100))).ToList();
        var scheduler = new InstanceScheduler();

        var first = scheduler.Schedule(new ClusterSnapshot(nodes, []), requests);
        var reversed = scheduler.Schedule(new ClusterSnapshot(nodes.AsEnumerable().Reverse().ToList(), []), requests);

        reversed.Placements.Should().Equal(first.Placements);
        reversed.Failures.Should().Equal(first.Failures);
    }

    [Fact]
    public void Schedule_DoesNotChangeTheSnapshot()
    {
        var harness = new SchedulerHarness().Node("a");
        var snapshot = harness.Snapshot;

        new InstanceScheduler().Schedule(snapshot, [Request("i1")]);

        snapshot.Instances.Should().BeEmpty();
    }
}
