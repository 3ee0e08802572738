namespace Eas.Node.Scheduler.Bench;

/// <summary>The simulated cluster and request mixes; deterministic (fixed seed), so every run schedules the same input.</summary>
internal static class Workloads
{
    public const int NodeCount = 1000;
    public const int GpusPerNode = 8;
    public const int RequestCount = 10_000;
    public const int ServiceCount = 100;

    /// <summary>An H100 80GB HBM3 as NVML reports it.</summary>
    public const long H100MemoryMib = 81559;

    private static readonly long[] _sliceMemoryMib = [10240, 20480, 40960];
    private static readonly int[] _corePercent = [10, 20, 30, 40, 50];

    /// <summary>A fixed pseudo-random choice in [0, <paramref name="count"/>) for <paramref name="item"/> (Knuth's multiplicative hash).</summary>
    private static int Pick(int item, int salt, int count) => (int)(((uint)((item * 16) + salt) * 2654435761u) >> 16) % count;

    /// <summary>1,000 schedulable nodes, each 192 cores, 2 TiB memory and 8 healthy H100-80GB GPUs on driver 550.54.15; no instances yet.</summary>
    public static ClusterSnapshot GpuCluster()
    {
        var nodes = new List<NodeSnapshot>(NodeCount);
        for (var n = 0; n < NodeCount; n++)
        {
            var gpus = Enumerable.Range(0, GpusPerNode)
                .Select(i => new GpuSnapshot(i, $"GPU-{n:D4}-{i}", "NVIDIA H100 80GB HBM3", H100MemoryMib, Healthy: true))
                .ToList();
            var labels = new Dictionary<string, string> { ["zone"] = $"z{n % 4}" };
            nodes.Add(new NodeSnapshot($"node-{n:D4}", 192_000, 2_097_152, labels, true, gpus, "550.54.15"));
        }

        return new ClusterSnapshot(nodes, []);
    }

    /// <summary>
    /// 10,000 GPU requests from 100 services (100 replicas each, interleaved round-robin as when
    /// every service scales up at once). 90 services ask for a slice (10, 20 or 40 GiB with 10–50 %
    /// compute), 10 for one whole GPU; every replica also takes 4 cores and 32 GiB.
    /// </summary>
    public static List<PlacementRequest> GpuRequests()
    {
        var shapes = new GpuRequest[ServiceCount];
        for (var s = 0; s < ServiceCount; s++)
        {
            shapes[s] = s % 10 == 9
                ? new GpuRequest(1)
                : new GpuRequest(0, _sliceMemoryMib[Pick(s, 1, _sliceMemoryMib.Length)], _corePercent[Pick(s, 2, _corePercent.Length)]);
        }

        return Enumerable.Range(0, RequestCount)
            .Select(i => new PlacementRequest($"i{i}", $"svc{i % ServiceCount}", 4000, 32768, [], null, shapes[i % ServiceCount]))
            .ToList();
    }

    /// <summary>10,000 CPU-only requests from 100 services (0.5–4 cores, 1–16 GiB), interleaved round-robin, on the same nodes.</summary>
    public static List<PlacementRequest> CpuRequests()
    {
        var shapes = Enumerable.Range(0, ServiceCount).Select(s => (Cpu: 500L * (1 + Pick(s, 3, 8)), Memory: 1024L * (1 + Pick(s, 4, 16)))).ToArray();
        return Enumerable.Range(0, RequestCount)
            .Select(i => new PlacementRequest($"i{i}", $"svc{i % ServiceCount}", shapes[i % ServiceCount].Cpu, shapes[i % ServiceCount].Memory, []))
            .ToList();
    }

    /// <summary><paramref name="requests"/> <paramref name="times"/> times over, with fresh instance ids.</summary>
    public static List<PlacementRequest> Repeat(List<PlacementRequest> requests, int times) =>
        [.. Enumerable.Range(0, times).SelectMany(k => requests.Select(r => r with { InstanceId = $"{r.InstanceId}-{k}" }))];
}
