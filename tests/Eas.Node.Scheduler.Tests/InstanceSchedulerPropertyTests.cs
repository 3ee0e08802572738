using CsCheck;

namespace Eas.Node.Scheduler.Tests;

public sealed class InstanceSchedulerPropertyTests
{
    private static readonly IReadOnlyDictionary<string, string> _noLabels = new Dictionary<string, string>();

    private static readonly Gen<NodeSnapshot[]> _genNodes =
        Gen.Int[0, 6].SelectMany(count => Gen.Select(Gen.Long[0, 8000], Gen.Long[0, 16384], Gen.Bool.Array[count], Gen.Bool.Array[count], (cpu, memory, schedulable, labelled) =>
            Enumerable.Range(0, count)
                .Select(i => new NodeSnapshot(
                    $"n{i}",
                    (cpu * (i + 1)) % 8001,
                    (memory * (i + 3)) % 16385,
                    labelled[i] ? new Dictionary<string, string> { ["zone"] = "z1" } : _noLabels,
                    schedulable[i] || i == 0))
                .ToArray()));

    private static readonly Gen<int[]> _genPorts = Gen.Int[8000, 8004].Array[0, 2].Select(p => p.Distinct().ToArray());

    private static Gen<PlacedInstance[]> GenExisting(NodeSnapshot[] nodes) =>
        nodes.Length == 0
            ? Gen.Const(Array.Empty<PlacedInstance>())
            : Gen.Select(Gen.Int[0, nodes.Length - 1], Gen.Int[0, 2], Gen.Long[0, 3000], Gen.Long[0, 6000], _genPorts,
                    (node, service, cpu, memory, ports) => (node, service, cpu, memory, ports))
                .Array[0, 5]
                .Select(items => items.Select((x, i) => new PlacedInstance($"old{i}", $"s{x.service}", nodes[x.node].Name, x.cpu, x.memory, x.ports)).ToArray());

    private static readonly Gen<PlacementRequest[]> _genRequests =
        Gen.Select(Gen.Int[0, 2], Gen.Long[0, 3000], Gen.Long[0, 6000], _genPorts, Gen.Bool,
                (service, cpu, memory, ports, selective) => (service, cpu, memory, ports, selective))
            .Array[0, 12]
            .Select(items => items.Select((x, i) => new PlacementRequest(
                $"new{i}", $"s{x.service}", x.cpu, x.memory, x.ports,
                x.selective ? new Dictionary<string, string> { ["zone"] = "z1" } : null)).ToArray());

    private static readonly Gen<(ClusterSnapshot Snapshot, PlacementRequest[] Requests)> _genInput =
        _genNodes.SelectMany(nodes => Gen.Select(GenExisting(nodes), _genRequests, (existing, requests) => (new ClusterSnapshot(nodes, existing), requests)));

    [Fact]
    public void Schedule_AnyInput_NeverAddsMoreThanANodeHasFree()
    {
        _genInput.Sample(input =>
        {
            var plan = new InstanceScheduler().Schedule(input.Snapshot, input.Requests);
            var requests = input.Requests.ToDictionary(r => r.InstanceId);

            foreach (var node in input.Snapshot.Nodes)
            {
                var added = plan.Placements.Where(p => p.Node == node.Name).Select(p => requests[p.InstanceId]).ToList();
                if (added.Count == 0)
                {
                    continue;
                }

                var existing = input.Snapshot.Instances.Where(i => i.Node == node.Name).ToList();
                (existing.Sum(i => i.CpuMillis) + added.Sum(r => r.CpuMillis)).Should().BeLessThanOrEqualTo(node.CpuMillis);
                (existing.Sum(i => i.MemoryMib) + added.Sum(r => r.MemoryMib)).Should().BeLessThanOrEqualTo(node.MemoryMib);
                node.Schedulable.Should().BeTrue();
            }

            (plan.Placements.Count + plan.Failures.Count).Should().Be(input.Requests.Length);
        });
    }

    [Fact]
    public void Schedule_AnyInput_NeverDoubleBooksAHostPort()
    {
        _genInput.Sample(input =>
        {
            var plan = new InstanceScheduler().Schedule(input.Snapshot, input.Requests);
            var requests = input.Requests.ToDictionary(r => r.InstanceId);

            foreach (var node in input.Snapshot.Nodes)
            {
                var held = input.Snapshot.Instances.Where(i => i.Node == node.Name).SelectMany(i => i.HostPorts).ToHashSet();
                foreach (var placement in plan.Placements.Where(p => p.Node == node.Name))
                {
                    foreach (var port in requests[placement.InstanceId].HostPorts)
                    {
                        held.Add(port).Should().BeTrue($"port {port} on {node.Name} was already held when {placement.InstanceId} got it");
                    }
                }
            }
        });
    }

    [Fact]
    public void Schedule_AnyInput_PlacesExactlyWhereThePlainFullScanWould()
    {
        _genInput.Sample(input =>
        {
            var plan = new InstanceScheduler().Schedule(input.Snapshot, input.Requests);
            var placed = plan.Placements.ToDictionary(p => p.InstanceId);

            var outcomes = input.Requests.Select(r => placed.TryGetValue(r.InstanceId, out var p) ? (r.InstanceId, (string?)p.Node, p.Gpu) : (r.InstanceId, null, null));

            outcomes.Should().Equal(ReferenceScheduler.Schedule(input.Snapshot, input.Requests));
        });
    }

    [Fact]
    public void Schedule_KReplicasOnNIdenticalNodes_AtMostOnePerNode()
    {
        var gen = Gen.Int[1, 8].SelectMany(n => Gen.Int[0, n].Select(k => (n, k)));

        gen.Sample((n, k) =>
        {
            var nodes = Enumerable.Range(0, n).Select(i => new NodeSnapshot($"n{i}", 4000, 8192, _noLabels, true)).ToList();
            var requests = Enumerable.Range(0, k).Select(i => new PlacementRequest($"r{i}", "svc", 1000, 1024, [])).ToList();

            var plan = new InstanceScheduler().Schedule(new ClusterSnapshot(nodes, []), requests);

            plan.Failures.Should().BeEmpty();
            plan.Placements.Should().HaveCount(k);
            plan.Placements.Select(p => p.Node).Should().OnlyHaveUniqueItems();
        });
    }
}
