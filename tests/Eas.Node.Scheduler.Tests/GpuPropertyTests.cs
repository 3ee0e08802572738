using CsCheck;

namespace Eas.Node.Scheduler.Tests;

public sealed class GpuPropertyTests
{
    private static readonly IReadOnlyDictionary<string, string> _noLabels = new Dictionary<string, string>();

    private static readonly (string Profile, long MemoryMib, int Slices)[] _profiles = [("1g.10gb", 9856, 1), ("2g.20gb", 19968, 2), ("3g.40gb", 40192, 3)];

    private static readonly Gen<GpuSpec> _genGpu = Gen.Select(
        Gen.OneOf("NVIDIA A100-SXM4-40GB", "NVIDIA H100 80GB HBM3"),
        Gen.OneOf(40960L, 81559L),
        Gen.Int[0, 7],
        Gen.Int[0, 4],
        Gen.Int[0, 7],
        (model, memory, health, mig, migMask) => new GpuSpec(model, memory, health > 0, mig == 0, migMask));

    private static readonly Gen<NodeSnapshot[]> _genNodes =
        Gen.Select(_genGpu.Array[0, 3], Gen.OneOf("550.54.15", "535.104.12", ""), Gen.Int[0, 9], Gen.OneOf(4000L, 64000L), (gpus, driver, schedulable, cpu) => (gpus, driver, schedulable, cpu))
            .Array[1, 4]
            .Select(specs => specs.Select((s, n) => new NodeSnapshot($"n{n}", s.cpu, 65536, _noLabels, s.schedulable > 0, [.. s.gpus.Select((g, i) => g.Build($"n{n}", i))], s.driver)).ToArray());

    private static readonly Gen<string> _genModel = Gen.OneOf("", "", "h100", "A100");

    private static readonly Gen<string> _genDriver = Gen.OneOf("", "", "550", "535.104");

    private static readonly Gen<GpuRequest?> _genGpuRequest = Gen.Int[0, 9].SelectMany(kind => kind switch
    {
        < 3 => Gen.Const((GpuRequest?)null),
        < 5 => Gen.Select(Gen.Int[1, 2], _genModel, _genDriver, (whole, model, driver) => (GpuRequest?)new GpuRequest(whole, 0, 0, model, driver)),
        _ => Gen.Select(
            Gen.OneOf(5000L, 10000L, 20000L, 40000L, 90000L), Gen.OneOf(0, 10, 30, 50, 100), _genModel, _genDriver,
            (memory, core, model, driver) => (GpuRequest?)new GpuRequest(0, memory, core, model, driver)),
    });

    private static readonly Gen<Func<string, PlacementRequest[]>> _genRequests =
        Gen.Select(Gen.Int[0, 2], Gen.OneOf(500L, 2000L), Gen.OneOf(512L, 8192L), _genGpuRequest, (service, cpu, memory, gpu) => (service, cpu, memory, gpu))
            .Array[0, 12]
            .Select(items => (Func<string, PlacementRequest[]>)(prefix =>
                [.. items.Select((x, i) => new PlacementRequest($"{prefix}{i}", $"s{x.service}", x.cpu, x.memory, [], null, x.gpu))]));

    /// <summary>Nodes, a first batch placed from an empty cluster, and a second batch placed on top of it.</summary>
    private static readonly Gen<(NodeSnapshot[] Nodes, PlacementRequest[] First, PlacementRequest[] Second)> _genInput =
        Gen.Select(_genNodes, _genRequests, _genRequests, (nodes, first, second) => (nodes, first("a"), second("b")));

    [Fact]
    public void Schedule_AnyInput_NeverOvercommitsOrSharesAGpu()
    {
        _genInput.Sample(input =>
        {
            var (snapshot, held) = RunTwoPlans(input);
            var gpus = input.Nodes.SelectMany(n => (n.Gpus ?? []).Select(g => (Node: n, Gpu: g))).ToDictionary(x => x.Gpu.Uuid);
            var migs = gpus.Values.SelectMany(x => (x.Gpu.MigDevices ?? []).Select(d => (x.Node, x.Gpu, Device: d))).ToDictionary(x => x.Device.Uuid);

            foreach (var (uuid, (node, gpu)) in gpus)
            {
                var holders = held.Where(h => h.Gpu!.GpuUuids.Contains(uuid)).ToList();
                holders.Should().NotContain(h => h.Node != node.Name, $"{uuid} is on {node.Name}");
                if (holders.Any(h => h.Gpu!.Kind == GpuAssignmentKind.Whole))
                {
                    holders.Should().ContainSingle($"whole GPU {uuid} is never shared");
                }

                var shared = holders.Where(h => h.Gpu!.Kind == GpuAssignmentKind.Shared).ToList();
                shared.Sum(h => h.Gpu!.MemoryMib).Should().BeLessThanOrEqualTo(gpu.MemoryMib, $"slices on {uuid} fit its memory");
                shared.Sum(h => h.Gpu!.CorePercent).Should().BeLessThanOrEqualTo(100, $"slices on {uuid} fit its compute");
                if (gpu.MigEnabled)
                {
                    holders.Should().NotContain(h => h.Gpu!.Kind != GpuAssignmentKind.Mig, $"MIG GPU {uuid} hands out only MIG devices");
                }
                else
                {
                    holders.Should().NotContain(h => h.Gpu!.Kind == GpuAssignmentKind.Mig);
                }

                if (!gpu.Healthy)
                {
                    holders.Should().BeEmpty($"unhealthy {uuid} gets no work");
                }
            }

            foreach (var group in held.Where(h => h.Gpu!.Kind == GpuAssignmentKind.Mig).GroupBy(h => h.Gpu!.MigUuid))
            {
                group.Should().ContainSingle($"MIG device {group.Key} has one holder");
                migs[group.Key].Gpu.Uuid.Should().Be(group.Single().Gpu!.GpuUuids.Single());
            }

            snapshot.Should().NotBeNull();
        });
    }

    [Fact]
    public void Schedule_AnyInput_GivesEachRequestTheGpuWorkItAskedFor()
    {
        _genInput.Sample(input =>
        {
            var (_, held) = RunTwoPlans(input);
            var requests = input.First.Concat(input.Second).ToDictionary(r => r.InstanceId);
            var nodes = input.Nodes.ToDictionary(n => n.Name);

            foreach (var placement in held)
            {
                var gpu = requests[placement.InstanceId].Gpu!;
                var node = nodes[placement.Node];
                var assigned = node.Gpus!.Where(g => placement.Gpu!.GpuUuids.Contains(g.Uuid)).ToList();
                assigned.Should().HaveCount(placement.Gpu!.GpuUuids.Count, "every assigned GPU is on the chosen node, once");
                assigned.Should().NotBeEmpty().And.OnlyContain(g => g.Model.Contains(gpu.Model, StringComparison.OrdinalIgnoreCase));
                if (gpu.DriverVersion.Length > 0)
                {
                    (node.GpuDriverVersion + ".").Should().StartWith(gpu.DriverVersion + ".");
                }

                if (gpu.WholeGpus > 0)
                {
                    placement.Gpu.Should().BeEquivalentTo(new { Kind = GpuAssignmentKind.Whole, CorePercent = 100, MemoryMib = assigned.Sum(g => g.MemoryMib) });
                    assigned.Should().HaveCount(gpu.WholeGpus);
                }
                else if (placement.Gpu.Kind == GpuAssignmentKind.Shared)
                {
                    placement.Gpu.Should().BeEquivalentTo(new { MemoryMib = gpu.SliceMemoryMib, gpu.CorePercent, MigUuid = "" });
                }
                else
                {
                    placement.Gpu.Kind.Should().Be(GpuAssignmentKind.Mig);
                    placement.Gpu.MemoryMib.Should().BeGreaterThanOrEqualTo(gpu.SliceMemoryMib);
                    placement.Gpu.CorePercent.Should().BeGreaterThanOrEqualTo(gpu.CorePercent);
                }
            }
        });
    }

    [Fact]
    public void Schedule_AnyInput_PlacesExactlyWhereThePlainFullScanWould()
    {
        _genInput.Sample(input =>
        {
            var scheduler = new InstanceScheduler();
            var first = new ClusterSnapshot(input.Nodes, []);
            var firstPlan = scheduler.Schedule(first, input.First);
            Outcomes(firstPlan, input.First).Should().Equal(ReferenceScheduler.Schedule(first, input.First));

            var second = new ClusterSnapshot(input.Nodes, Held(firstPlan, input.First));
            var secondPlan = scheduler.Schedule(second, input.Second);
            Outcomes(secondPlan, input.Second).Should().Equal(ReferenceScheduler.Schedule(second, input.Second));
        });
    }

    [Fact]
    public void Schedule_ManyRequestsOnManyGpuNodes_PlacesExactlyWhereThePlainFullScanWould()
    {
        // Bigger than the other properties so that bounds, summaries and failed-shape reuse all come into play.
        var gen = Gen.Select(
            Gen.Select(_genGpu.Array[4, 4], Gen.OneOf(16000L, 64000L), (gpus, cpu) => (gpus, cpu)).Array[20, 40],
            Gen.Select(Gen.Int[0, 9], Gen.OneOf(500L, 4000L), _genGpuRequest, (service, cpu, gpu) => (service, cpu, gpu)).Array[100, 300],
            (nodes, requests) => (
                Nodes: nodes.Select((n, i) => new NodeSnapshot($"n{i:D2}", n.cpu, 65536, _noLabels, true, [.. n.gpus.Select((g, k) => g.Build($"n{i}", k))], "550.54.15")).ToArray(),
                Requests: requests.Select((r, i) => new PlacementRequest($"r{i}", $"s{r.service}", r.cpu, 1024, [], null, r.gpu)).ToArray()));

        gen.Sample(
            input =>
            {
                var snapshot = new ClusterSnapshot(input.Nodes, []);
                var plan = new InstanceScheduler().Schedule(snapshot, input.Requests);

                Outcomes(plan, input.Requests).Should().Equal(ReferenceScheduler.Schedule(snapshot, input.Requests));
            },
            iter: 20);
    }

    [Fact]
    public void Schedule_SameInputListedInAnotherOrder_GivesTheSamePlan()
    {
        _genInput.Sample(input =>
        {
            var scheduler = new InstanceScheduler();
            var first = scheduler.Schedule(new ClusterSnapshot(input.Nodes, []), input.First);
            var existing = Held(first, input.First);
            var snapshot = new ClusterSnapshot(input.Nodes, existing);
            var reordered = new ClusterSnapshot(
                [.. input.Nodes.Reverse().Select(n => n with { Gpus = n.Gpus?.Reverse().Select(g => g with { MigDevices = g.MigDevices?.Reverse().ToList() }).ToList() })],
                [.. existing.AsEnumerable().Reverse()]);

            var plan = scheduler.Schedule(snapshot, input.Second);
            var again = scheduler.Schedule(reordered, input.Second);

            again.Placements.Should().Equal(plan.Placements);
            again.Failures.Should().Equal(plan.Failures);
        });
    }

    /// <summary>Runs both batches; returns the second snapshot and every instance holding GPU work afterwards.</summary>
    private static (ClusterSnapshot Snapshot, List<PlacedInstance> Held) RunTwoPlans((NodeSnapshot[] Nodes, PlacementRequest[] First, PlacementRequest[] Second) input)
    {
        var scheduler = new InstanceScheduler();
        var first = scheduler.Schedule(new ClusterSnapshot(input.Nodes, []), input.First);
        var snapshot = new ClusterSnapshot(input.Nodes, Held(first, input.First));
        var second = scheduler.Schedule(snapshot, input.Second);
        var all = snapshot.Instances.Concat(Held(second, input.Second)).Where(i => i.Gpu is not null).ToList();
        return (snapshot, all);
    }

    private static List<PlacedInstance> Held(SchedulingPlan plan, PlacementRequest[] requests)
    {
        var byId = requests.ToDictionary(r => r.InstanceId);
        return [.. plan.Placements.Select(p => new PlacedInstance(p.InstanceId, byId[p.InstanceId].Service, p.Node, byId[p.InstanceId].CpuMillis, byId[p.InstanceId].MemoryMib, [], p.Gpu))];
    }

    private static List<(string InstanceId, string? Node, GpuAssignment? Gpu)> Outcomes(SchedulingPlan plan, PlacementRequest[] requests)
    {
        var placed = plan.Placements.ToDictionary(p => p.InstanceId);
        return [.. requests.Select(r => placed.TryGetValue(r.InstanceId, out var p) ? (r.InstanceId, (string?)p.Node, p.Gpu) : (r.InstanceId, null, null))];
    }

    private sealed record GpuSpec(string Model, long MemoryMib, bool Healthy, bool Mig, int MigMask)
    {
        public GpuSnapshot Build(string node, int index) => new(
            index,
            $"GPU-{node}-{index}",
            Model,
            MemoryMib,
            Healthy,
            Mig,
            Mig ? [.. _profiles.Where((_, k) => (MigMask & (1 << k)) != 0).Select((p, k) => new MigDeviceSnapshot($"MIG-{node}-{index}-{p.Profile}", p.Profile, p.MemoryMib, p.Slices))] : null);
    }
}
