using static Eas.Node.Scheduler.Tests.SchedulerHarness;

namespace Eas.Node.Scheduler.Tests;

public sealed class GpuSchedulingTests
{
    private const long H100MemoryMib = 81559;

    /// <summary>The node: two H100-80GB GPUs on driver 550.54.15, plenty of CPU and memory.</summary>
    private static SchedulerHarness TwoH100(string name = "gpu") =>
        new SchedulerHarness().Node(name, cpuMillis: 64000, memoryMib: 262144, gpus: [H100(name, 0), H100(name, 1)], driver: "550.54.15");

    private static GpuAssignment Whole(params string[] uuids) => new(GpuAssignmentKind.Whole, uuids, "", H100MemoryMib * uuids.Length, 100);

    private static GpuAssignment Shared(string uuid, long memoryMib, int corePercent) => new(GpuAssignmentKind.Shared, [uuid], "", memoryMib, corePercent);

    [Fact]
    public void Schedule_TwoWholeGpuRequests_GetDifferentGpus_AndAThirdStaysUnplaced()
    {
        var plan = TwoH100().Schedule(WithGpu("a", new(1)), WithGpu("b", new(1)), WithGpu("c", new(1)));

        GpuOf(plan, "a").Should().Be(Whole("GPU-gpu-0"));
        GpuOf(plan, "b").Should().Be(Whole("GPU-gpu-1"));
        plan.Failures.Should().Equal(new PlacementFailure(
            "c", "no node with 1 free GPU of any model, 100m CPU and 128 MiB memory free; 1 node checked: 1 with too few free GPUs (0 of 2 free)"));
    }

    [Fact]
    public void Schedule_TwoWholeGpus_TakesTheLowestFreeIndexes()
    {
        var harness = new SchedulerHarness()
            .Node("gpu", gpus: [H100("gpu", 3), H100("gpu", 1), H100("gpu", 0), H100("gpu", 2)])
            .PlacedGpu("old", "other", "gpu", Whole("GPU-gpu-1"));

        var plan = harness.Schedule(WithGpu("a", new(2)));

        GpuOf(plan, "a").Should().Be(Whole("GPU-gpu-0", "GPU-gpu-2"));
    }

    [Fact]
    public void Schedule_EveryGpuTakenOnTwoNodes_FailureCountsTheNodes()
    {
        var harness = new SchedulerHarness()
            .Node("n1", gpus: [H100("n1", 0), H100("n1", 1)])
            .Node("n2", gpus: [H100("n2", 0), H100("n2", 1)]);
        harness.Schedule(WithGpu("w1", new(2)), WithGpu("w2", new(2)));

        var plan = harness.Schedule(WithGpu("a", new(1)), WithGpu("b", new(1, Model: "H100")));

        plan.Failures.Select(f => f.Reason).Should().Equal(
            "no node with 1 free GPU of any model, 100m CPU and 128 MiB memory free; 2 nodes checked: 2 with too few free GPUs (0 of 2 free)",
            "no node with 1 free H100 GPU, 100m CPU and 128 MiB memory free; 2 nodes checked: 2 with too few free H100 GPUs (0 of 2 free)");
    }

    [Fact]
    public void Schedule_NodesWithDifferentRoom_FailureNamesTheNodeWithTheMost()
    {
        var harness = new SchedulerHarness()
            .Node("n1", gpus: [H100("n1", 0), H100("n1", 1)])
            .Node("n2", gpus: [H100("n2", 0), H100("n2", 1), H100("n2", 2, healthy: false)])
            .PlacedGpu("x", "other", "n1", Whole("GPU-n1-0", "GPU-n1-1"))
            .PlacedGpu("y", "other", "n2", Whole("GPU-n2-0"));

        var plan = harness.Schedule(WithGpu("a", new(2)));

        plan.Failures.Single().Reason.Should().EndWith("2 nodes checked: 2 with too few free GPUs (at most 1 of 3 free, 1 unhealthy, on node n2)");
    }

    [Fact]
    public void Schedule_ThreeSlicesOf20GiB_LandOnOneGpu_AndWholeGpuWorkStillGetsTheOther()
    {
        var harness = TwoH100();

        var plan = harness.Schedule(
            WithGpu("s1", new(0, 20480, 30)),
            WithGpu("s2", new(0, 20480, 30)),
            WithGpu("s3", new(0, 20480, 30)),
            WithGpu("w", new(1)));

        plan.Failures.Should().BeEmpty();
        foreach (var slice in new[] { "s1", "s2", "s3" })
        {
            GpuOf(plan, slice).Should().Be(Shared("GPU-gpu-0", 20480, 30));
        }

        GpuOf(plan, "w").Should().Be(Whole("GPU-gpu-1"));
    }

    [Fact]
    public void Schedule_SixSlicesBoundByCompute_FillBothGpusThreeEach_AndASeventhFails()
    {
        var requests = Enumerable.Range(1, 7).Select(i => WithGpu($"s{i}", new(0, 20000, 30))).ToArray();

        var plan = TwoH100().Schedule(requests);

        plan.Placements.Select(p => p.Gpu!.GpuUuids.Single()).Should().Equal(
            "GPU-gpu-0", "GPU-gpu-0", "GPU-gpu-0", "GPU-gpu-1", "GPU-gpu-1", "GPU-gpu-1");
        plan.Failures.Should().Equal(new PlacementFailure(
            "s7",
            "no node with a GPU slice of 20000 MiB and 30% compute, 100m CPU and 128 MiB memory free; "
            + "1 node checked: 1 without room on any GPU (best: 21559 MiB, 10% free on GPU 0)"));
    }

    [Fact]
    public void Schedule_SliceWithoutCorePercent_IsBoundByMemoryOnly()
    {
        var plan = TwoH100().Schedule(
            WithGpu("a", new(0, 40000, 100)),
            WithGpu("b", new(0, 40000)),
            WithGpu("c", new(0, 40000)));

        GpuOf(plan, "a").Should().Be(Shared("GPU-gpu-0", 40000, 100));
        GpuOf(plan, "b").Should().Be(Shared("GPU-gpu-0", 40000, 0), "0% compute fits next to a 100% slice");
        GpuOf(plan, "c").Should().Be(Shared("GPU-gpu-1", 40000, 0));
    }

    [Fact]
    public void Schedule_Slice_PrefersTheSharedGpuWithTheMostMemoryUsedThatStillFits()
    {
        var harness = new SchedulerHarness()
            .Node("gpu", gpus: [H100("gpu", 0), H100("gpu", 1), H100("gpu", 2)])
            .PlacedGpu("small", "other", "gpu", Shared("GPU-gpu-1", 10240, 10))
            .PlacedGpu("large", "other", "gpu", Shared("GPU-gpu-2", 61440, 10));

        var plan = harness.Schedule(WithGpu("fits-on-large", new(0, 20000, 10)), WithGpu("too-big-for-large", new(0, 20000, 10)));

        GpuOf(plan, "fits-on-large").GpuUuids.Should().Equal("GPU-gpu-2");
        GpuOf(plan, "too-big-for-large").GpuUuids.Should().ContainSingle()
            .Which.Should().Be("GPU-gpu-1", "GPU 2 has 119 MiB left; GPU 1 already holds a slice, GPU 0 is fresh");
    }

    [Fact]
    public void Schedule_Slice_PrefersANodeWithASharedGpuOverAFreshGpuOnAnEmptierNode()
    {
        var harness = new SchedulerHarness()
            .Node("a-empty", cpuMillis: 64000, memoryMib: 262144, gpus: [H100("a", 0)])
            .Node("b-shared", cpuMillis: 8000, memoryMib: 16384, gpus: [H100("b", 0)])
            .PlacedGpu("old", "other", "b-shared", Shared("GPU-b-0", 10240, 10));

        var plan = harness.Schedule(WithGpu("s", new(0, 10240, 10)));

        NodeOf(plan, "s").Should().Be("b-shared");
        plan.Placements.Single().Score.Should().BeGreaterThan(1, "GPU packing scores 1 on a shared GPU");
    }

    [Fact]
    public void Schedule_WholeGpus_PackOntoTheNodeLeftWithFewestFreeGpus()
    {
        var harness = new SchedulerHarness()
            .Node("a-four", cpuMillis: 64000, memoryMib: 262144, gpus: [H100("a", 0), H100("a", 1), H100("a", 2), H100("a", 3)])
            .Node("b-two", cpuMillis: 8000, memoryMib: 16384, gpus: [H100("b", 0), H100("b", 1)]);

        var plan = harness.Schedule(WithGpu("w1", new(1)), WithGpu("w2", new(1)), WithGpu("w3", new(2)));

        plan.Placements.Select(p => p.Node).Should().Equal("b-two", "b-two", "a-four");
    }

    [Fact]
    public void Schedule_SpreadOnlyBreaksTiesOfGpuPacking()
    {
        var harness = new SchedulerHarness()
            .Node("a", gpus: [H100("a", 0), H100("a", 1)])
            .Node("b", gpus: [H100("b", 0), H100("b", 1)]);

        var plan = harness.Schedule(WithGpu("s1", new(0, 10240, 10)), WithGpu("s2", new(0, 10240, 10)), WithGpu("s3", new(0, 10240, 10)));

        plan.Placements.Select(p => p.Node).Should().Equal(["a", "a", "a"], "replicas of one service share a GPU before they spread to a fresh one");
    }

    [Fact]
    public void Schedule_MigNode_TakesTheSmallestFreeMigDeviceThatFits()
    {
        var harness = new SchedulerHarness().Node("mig", gpus:
        [
            new GpuSnapshot(0, "GPU-mig-0", "NVIDIA H100 80GB HBM3", H100MemoryMib, true, MigEnabled: true,
                MigDevices: [Mig("MIG-a", "3g.40gb"), Mig("MIG-b", "1g.10gb"), Mig("MIG-c", "2g.20gb")]),
            H100("mig", 1),
        ]);

        var plan = harness.Schedule(
            WithGpu("15g", new(0, 15000, 20)),
            WithGpu("9g-10pct", new(0, 9000, 10)),
            WithGpu("9g-20pct", new(0, 9000, 20)),
            WithGpu("50g", new(0, 50000)));

        GpuOf(plan, "15g").Should().Be(new GpuAssignment(GpuAssignmentKind.Mig, ["GPU-mig-0"], "MIG-c", 19968, 28));
        GpuOf(plan, "9g-10pct").Should().Be(new GpuAssignment(GpuAssignmentKind.Mig, ["GPU-mig-0"], "MIG-b", 9856, 14));
        GpuOf(plan, "9g-20pct").Should().Be(new GpuAssignment(GpuAssignmentKind.Mig, ["GPU-mig-0"], "MIG-a", 40192, 42), "1g.10gb gives 14% compute; 2g.20gb is taken");
        GpuOf(plan, "50g").Should().Be(Shared("GPU-mig-1", 50000, 0), "no MIG device has 50000 MiB");
    }

    [Fact]
    public void Schedule_MigDevice_WinsOverASharedGpuThatAlreadyHoldsSlices()
    {
        var harness = new SchedulerHarness()
            .Node("mig", gpus:
            [
                new GpuSnapshot(0, "GPU-mig-0", "NVIDIA H100 80GB HBM3", H100MemoryMib, true, MigEnabled: true, MigDevices: [Mig("MIG-a", "2g.20gb")]),
                H100("mig", 1),
            ])
            .PlacedGpu("old", "other", "mig", Shared("GPU-mig-1", 10240, 10));

        var plan = harness.Schedule(WithGpu("s", new(0, 10240, 10)));

        GpuOf(plan, "s").MigUuid.Should().Be("MIG-a");
    }

    [Fact]
    public void Schedule_MigDeviceOnAnotherNode_OutranksAFreshGpu()
    {
        var harness = new SchedulerHarness()
            .Node("a-fresh", cpuMillis: 64000, memoryMib: 262144, gpus: [H100("a", 0)])
            .Node("b-mig", cpuMillis: 8000, memoryMib: 16384, gpus:
            [
                new GpuSnapshot(0, "GPU-b-0", "NVIDIA H100 80GB HBM3", H100MemoryMib, true, MigEnabled: true, MigDevices: [Mig("MIG-b", "3g.40gb")]),
            ]);

        var plan = harness.Schedule(WithGpu("s", new(0, 20000, 30)));

        NodeOf(plan, "s").Should().Be("b-mig");
    }

    [Fact]
    public void Schedule_TakenMigDevice_IsNotHandedOutAgain()
    {
        var harness = new SchedulerHarness()
            .Node("mig", gpus:
            [
                new GpuSnapshot(0, "GPU-mig-0", "NVIDIA H100 80GB HBM3", H100MemoryMib, true, MigEnabled: true,
                    MigDevices: [Mig("MIG-small", "2g.20gb"), Mig("MIG-large", "3g.40gb")]),
            ])
            .PlacedGpu("old", "other", "mig", new GpuAssignment(GpuAssignmentKind.Mig, ["GPU-mig-0"], "MIG-small", 19968, 28));

        var plan = harness.Schedule(WithGpu("s1", new(0, 10000)), WithGpu("s2", new(0, 10000)));

        GpuOf(plan, "s1").MigUuid.Should().Be("MIG-large");
        plan.Failures.Single().Reason.Should().EndWith(
            "1 node checked: 1 without room on any GPU (no GPU to share: 1 in MIG mode; every MIG device taken)");
    }

    [Fact]
    public void Schedule_MigGpuStillHeldWholeFromBeforeItsModeChanged_HandsOutNoMigDevice()
    {
        var harness = new SchedulerHarness()
            .Node("mig", gpus:
            [
                new GpuSnapshot(0, "GPU-mig-0", "NVIDIA H100 80GB HBM3", H100MemoryMib, true, MigEnabled: true, MigDevices: [Mig("MIG-a", "3g.40gb")]),
            ])
            .PlacedGpu("old", "other", "mig", Whole("GPU-mig-0"));

        var plan = harness.Schedule(WithGpu("s", new(0, 10000)));

        plan.Failures.Single().Reason.Should().EndWith("1 without room on any GPU (no GPU to share: 1 in MIG mode; every MIG device taken)");
    }

    [Fact]
    public void Schedule_MigGpu_IsNeverHandedOutWhole()
    {
        var harness = new SchedulerHarness().Node("mig", gpus:
        [
            new GpuSnapshot(0, "GPU-mig-0", "NVIDIA H100 80GB HBM3", H100MemoryMib, true, MigEnabled: true, MigDevices: [Mig("MIG-a", "7g.80gb")]),
        ]);

        var plan = harness.Schedule(WithGpu("w", new(1)));

        plan.Failures.Single().Reason.Should().EndWith("1 node checked: 1 with too few free GPUs (0 of 1 free, 1 in MIG mode)");
    }

    [Fact]
    public void Schedule_UnhealthyGpu_IsNeverChosen()
    {
        var harness = new SchedulerHarness().Node("gpu", gpus: [H100("gpu", 0, healthy: false), H100("gpu", 1)]);

        var plan = harness.Schedule(WithGpu("slice", new(0, 10240, 10)), WithGpu("whole", new(1)));

        GpuOf(plan, "slice").GpuUuids.Should().Equal("GPU-gpu-1");
        plan.Failures.Should().Equal(new PlacementFailure(
            "whole", "no node with 1 free GPU of any model, 100m CPU and 128 MiB memory free; 1 node checked: 1 with too few free GPUs (0 of 2 free, 1 unhealthy)"));
    }

    [Fact]
    public void Schedule_AllGpusUnhealthy_SaysSo()
    {
        var harness = new SchedulerHarness()
            .Node("gpu", gpus: [H100("gpu", 0, healthy: false)])
            .Node("mig", gpus:
            [
                new GpuSnapshot(0, "GPU-mig-0", "NVIDIA H100 80GB HBM3", H100MemoryMib, false, MigEnabled: true, MigDevices: [Mig("MIG-a", "7g.80gb")]),
            ]);

        var plan = harness.Schedule(WithGpu("s", new(0, 1024)));

        plan.Failures.Single().Reason.Should().Be(
            "no node with a GPU slice of 1024 MiB, 100m CPU and 128 MiB memory free; 2 nodes checked: 2 with all GPUs unhealthy");
    }

    [Fact]
    public void Schedule_InstancesOnAnUnhealthyGpu_StillHoldIt()
    {
        // The GPU's holder stays counted: when it turns healthy again in a later snapshot, its slices are still there.
        var harness = new SchedulerHarness()
            .Node("gpu", gpus: [H100("gpu", 0, healthy: false), H100("gpu", 1)])
            .PlacedGpu("old", "other", "gpu", Shared("GPU-gpu-0", 70000, 90));

        var plan = harness.Schedule(WithGpu("s", new(0, 20000, 20)));

        GpuOf(plan, "s").GpuUuids.Should().Equal("GPU-gpu-1");
    }

    [Fact]
    public void Schedule_DriverVersion_MatchesOnDotBoundaries()
    {
        var harness = new SchedulerHarness()
            .Node("old", cpuMillis: 64000, gpus: [H100("old", 0)], driver: "535.104.12")
            .Node("new", gpus: [H100("new", 0), H100("new", 1)], driver: "550.54.15")
            .Node("unknown", gpus: [H100("unknown", 0)]);

        var plan = harness.Schedule(
            WithGpu("major", new(1, DriverVersion: "550")),
            WithGpu("exact", new(1, DriverVersion: "550.54.15")),
            WithGpu("partial", new(1, DriverVersion: "550.5")));

        NodeOf(plan, "major").Should().Be("new");
        NodeOf(plan, "exact").Should().Be("new");
        plan.Failures.Should().Equal(new PlacementFailure(
            "partial",
            "no node with 1 free GPU of any model with driver 550.5, 100m CPU and 128 MiB memory free; "
            + "3 nodes checked: 3 with driver 550.54.15 or 535.104.12 or unknown, not 550.5"));
    }

    [Fact]
    public void Schedule_Model_MatchesACaseInsensitiveSubstring()
    {
        var harness = new SchedulerHarness()
            .Node("a100", cpuMillis: 64000, gpus: [A100("a100", 0), A100("a100", 1)])
            .Node("h100", gpus: [H100("h100", 0), H100("h100", 1)]);

        var plan = harness.Schedule(
            WithGpu("h", new(1, Model: "h100")),
            WithGpu("slice", new(0, 10240, 10, Model: "A100")),
            WithGpu("b200", new(1, Model: "B200")));

        NodeOf(plan, "h").Should().Be("h100");
        NodeOf(plan, "slice").Should().Be("a100");
        plan.Failures.Should().Equal(new PlacementFailure(
            "b200",
            "no node with 1 free B200 GPU, 100m CPU and 128 MiB memory free; "
            + "2 nodes checked: 2 without a GPU of model B200 (found: NVIDIA A100-SXM4-80GB, NVIDIA H100 80GB HBM3)"));
    }

    [Fact]
    public void Schedule_NodeWithMixedModels_TakesOnlyGpusOfTheModel()
    {
        var harness = new SchedulerHarness().Node("mixed", gpus: [A100("mixed", 0), H100("mixed", 1), H100("mixed", 2)]);

        var plan = harness.Schedule(WithGpu("h", new(1, Model: "H100")), WithGpu("a", new(0, 10240, Model: "A100")), WithGpu("h2", new(2, Model: "H100")));

        GpuOf(plan, "h").GpuUuids.Should().Equal("GPU-mixed-1");
        GpuOf(plan, "a").GpuUuids.Should().Equal("GPU-mixed-0");
        plan.Failures.Single().Reason.Should().EndWith("1 with too few free H100 GPUs (1 of 2 free)");
    }

    [Fact]
    public void Schedule_NodesWithoutGpus_AreCountedInTheFailure()
    {
        var harness = TwoH100().Node("cpu", cpuMillis: 64000).PlacedGpu("old", "other", "gpu", Whole("GPU-gpu-0", "GPU-gpu-1"));

        var plan = harness.Schedule(WithGpu("w", new(1)));

        plan.Failures.Single().Reason.Should().EndWith("2 nodes checked: 1 without GPUs, 1 with too few free GPUs (0 of 2 free)");
    }

    [Fact]
    public void Schedule_CpuOnlyRequest_GetsNoGpuAndIgnoresGpus()
    {
        var harness = new SchedulerHarness().Node("a-gpu", gpus: [H100("a", 0)]).Node("b-cpu");

        var plan = harness.Schedule(Request("i1", service: "x"), Request("i2", service: "y"));

        plan.Placements.Select(p => (p.Node, p.Gpu)).Should().Equal(("a-gpu", null), ("b-cpu", null));
    }

    [Fact]
    public void Schedule_AllZeroGpuRequest_AsksForNoGpu()
    {
        var plan = new SchedulerHarness().Node("cpu").Schedule(WithGpu("i", new(0)));

        plan.Placements.Single().Should().Be(new Placement("i", "cpu", 1 - ((100.0 / 4000) + (128.0 / 8192)) / 2));
    }

    [Fact]
    public void Schedule_ExistingGpuWork_CountsAndUnknownGpusAreIgnored()
    {
        var harness = TwoH100()
            .PlacedGpu("whole", "other", "gpu", Whole("GPU-gpu-0"))
            .PlacedGpu("slice", "other", "gpu", Shared("GPU-gpu-1", 81559, 100))
            .PlacedGpu("gone", "other", "gpu", Whole("GPU-gone-7"));

        var plan = harness.Schedule(WithGpu("w", new(1)), WithGpu("s", new(0, 1)));

        plan.Placements.Should().BeEmpty();
        plan.Failures.Select(f => f.Reason).Should().Equal(
            "no node with 1 free GPU of any model, 100m CPU and 128 MiB memory free; 1 node checked: 1 with too few free GPUs (0 of 2 free)",
            "no node with a GPU slice of 1 MiB, 100m CPU and 128 MiB memory free; 1 node checked: 1 without room on any GPU (best: 0 MiB, 0% free on GPU 1)");
    }

    [Fact]
    public void Schedule_LaterPlan_SeesGpuWorkOfAnEarlierOne()
    {
        var harness = TwoH100();
        harness.Schedule(WithGpu("w", new(1)), WithGpu("s", new(0, 20480, 30)));

        var plan = harness.Schedule(WithGpu("w2", new(1)), WithGpu("s2", new(0, 20480, 30)));

        GpuOf(plan, "s2").GpuUuids.Should().Equal("GPU-gpu-1");
        plan.Failures.Single().InstanceId.Should().Be("w2");
    }

    [Fact]
    public void Schedule_RepeatedFailingShape_IsReworded_AfterThePlanChangesTheCluster()
    {
        var plan = TwoH100().Schedule(
            WithGpu("big1", new(3)),
            WithGpu("big2", new(3)),
            WithGpu("one", new(1)),
            WithGpu("big3", new(3)));

        plan.Failures.Select(f => (f.InstanceId, f.Reason[f.Reason.IndexOf('(', StringComparison.Ordinal)..])).Should().Equal(
            ("big1", "(2 of 2 free)"),
            ("big2", "(2 of 2 free)"),
            ("big3", "(1 of 2 free)"));
    }

    [Theory]
    [InlineData(-1, 0, 0, "", "invalid GPU request: -1 GPUs; the GPU count must be 0 or more")]
    [InlineData(0, -5, 0, "", "invalid GPU request: -5 MiB GPU memory; the slice's GPU memory must be 0 or more")]
    [InlineData(0, 1024, 101, "", "invalid GPU request: 101% GPU compute; the core percentage must be 0-100")]
    [InlineData(0, 1024, -1, "", "invalid GPU request: -1% GPU compute; the core percentage must be 0-100")]
    [InlineData(1, 1024, 0, "", "invalid GPU request: 1 whole GPUs and a 1024 MiB slice; ask for whole GPUs or for a slice (GPU memory), not both")]
    [InlineData(1, 0, 50, "", "invalid GPU request: 50% GPU compute with 1 whole GPUs; whole GPUs always get 100%, so drop the core percentage or ask for a slice (GPU memory) instead")]
    [InlineData(0, 0, 30, "", "invalid GPU request: 30% GPU compute without GPU memory; give the slice's GPU memory too, or ask for whole GPUs")]
    [InlineData(0, 0, 0, "H100", "invalid GPU request: a GPU model or driver but no GPUs; ask for whole GPUs or a slice's GPU memory, or drop the model and driver")]
    public void Schedule_MalformedGpuRequest_FailsWithTheRule(int whole, long memoryMib, int corePercent, string model, string reason)
    {
        var plan = TwoH100().Schedule(WithGpu("bad", new(whole, memoryMib, corePercent, model)), WithGpu("good", new(1)));

        plan.Failures.Should().Equal(new PlacementFailure("bad", reason));
        NodeOf(plan, "good").Should().Be("gpu");
    }

    [Fact]
    public void GpuAssignment_EqualsByValue()
    {
        var first = new GpuAssignment(GpuAssignmentKind.Whole, ["GPU-a", "GPU-b"], "", 2, 100);
        var second = new GpuAssignment(GpuAssignmentKind.Whole, new List<string> { "GPU-a", "GPU-b" }, "", 2, 100);

        second.Should().Be(first);
        second.GetHashCode().Should().Be(first.GetHashCode());
        (first with { GpuUuids = ["GPU-b", "GPU-a"] }).Should().NotBe(first);
    }
}
