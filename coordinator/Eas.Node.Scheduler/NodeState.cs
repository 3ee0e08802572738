namespace Eas.Node.Scheduler;

/// <summary>
/// A node while one plan is being made: its snapshot plus what the snapshot's instances and the
/// plan's earlier placements already hold on it, GPUs included. Mutable, and private to one
/// <see cref="InstanceScheduler.Schedule"/> call, so the snapshot itself is never changed.
/// </summary>
/// <remarks>
/// Besides the exact per-GPU state the node keeps a summary (free whole GPUs, the largest free
/// shared memory and compute, the largest free MIG device) that checkers and rankers read in O(1)
/// to skip nodes without walking their GPUs. <see cref="RefreshGpuSummary"/> keeps it current.
/// </remarks>
internal sealed class NodeState
{
    private HashSet<int>? _usedPorts;

    public NodeState(NodeSnapshot node, int ordinal, int gpuOrdinalBase)
    {
        Node = node;
        Ordinal = ordinal;
        GpuOrdinalBase = gpuOrdinalBase;
        CpuMillis = node.CpuMillis;
        MemoryMib = node.MemoryMib;
        FreeCpuMillis = node.CpuMillis;
        FreeMemoryMib = node.MemoryMib;
        Schedulable = node.Schedulable;

        Gpus = (node.Gpus ?? [])
            .OrderBy(g => g.Index)
            .ThenBy(g => g.Uuid, StringComparer.Ordinal)
            .Select(g => new GpuState(g))
            .ToArray();
        var migs = new List<MigState>();
        for (var i = 0; i < Gpus.Length; i++)
        {
            if (Gpus[i].Mig)
            {
                migs.AddRange((Gpus[i].Snapshot.MigDevices ?? []).Select(d => new MigState(d, i)));
            }
        }

        MigDevices = migs
            .OrderBy(m => m.MemoryMib)
            .ThenBy(m => m.Snapshot.SliceCount)
            .ThenBy(m => m.Snapshot.Uuid, StringComparer.Ordinal)
            .ToArray();
        HealthyGpus = Gpus.Count(g => g.Healthy);
        RefreshGpuSummary();
    }

    public NodeSnapshot Node { get; }

    public string Name => Node.Name;

    /// <summary>The node's position in name order; indexes per-node arrays such as spread counts.</summary>
    public int Ordinal { get; }

    /// <summary>The cluster-wide ordinal of <see cref="Gpus"/>[0]; the node's GPUs follow it.</summary>
    public int GpuOrdinalBase { get; }

    public bool Schedulable { get; }

    public long CpuMillis { get; }

    public long MemoryMib { get; }

    public long FreeCpuMillis { get; private set; }

    public long FreeMemoryMib { get; private set; }

    /// <summary>The node's GPUs, lowest index first.</summary>
    public GpuState[] Gpus { get; }

    /// <summary>The MIG devices of the node's MIG-enabled GPUs, smallest first (memory, slices, UUID).</summary>
    public MigState[] MigDevices { get; }

    public int HealthyGpus { get; }

    /// <summary>GPUs of any model that can be handed out whole now.</summary>
    public int FreeWholeGpus { get; private set; }

    /// <summary>The most free memory on a shareable GPU of any model; −1 when none is shareable.</summary>
    public long MaxSharedFreeMemoryMib { get; private set; }

    /// <summary>The most free compute on a shareable GPU of any model; −1 when none is shareable.</summary>
    public int MaxSharedFreeCorePercent { get; private set; }

    /// <summary>The most memory of a free MIG device on a healthy GPU; −1 when there is none.</summary>
    public long MaxFreeMigMemoryMib { get; private set; }

    /// <summary>The most compute of a free MIG device on a healthy GPU; −1 when there is none.</summary>
    public int MaxFreeMigCorePercent { get; private set; }

    /// <summary>The most free memory on a shareable GPU that already holds slices; −1 when none does.</summary>
    public long MaxPackedFreeMemoryMib { get; private set; }

    /// <summary>The most free compute on a shareable GPU that already holds slices; −1 when none does.</summary>
    public int MaxPackedFreeCorePercent { get; private set; }

    /// <summary>
    /// False when a slice of <paramref name="memoryMib"/> and <paramref name="corePercent"/> surely
    /// cannot land here without taking a fresh GPU (no free MIG device, no already shared GPU with
    /// that much room); true when it might.
    /// </summary>
    public bool MightPack(long memoryMib, int corePercent) =>
        (MaxPackedFreeMemoryMib >= memoryMib && MaxPackedFreeCorePercent >= corePercent)
        || (MaxFreeMigMemoryMib >= memoryMib && MaxFreeMigCorePercent >= corePercent);

    /// <summary>
    /// Whether MIG device <paramref name="index"/> can take a slice: nobody holds it, and its GPU is
    /// healthy and held neither whole nor by shared slices (possible only in a snapshot taken while
    /// the GPU changed mode).
    /// </summary>
    public bool IsMigFree(int index)
    {
        ref readonly var mig = ref MigDevices[index];
        ref readonly var gpu = ref Gpus[mig.Gpu];
        return mig.Holders == 0 && gpu.Healthy && gpu.WholeHolders == 0 && gpu.Slices == 0;
    }

    public bool IsPortUsed(int port) => _usedPorts is not null && _usedPorts.Contains(port);

    public void Add(long cpuMillis, long memoryMib, IReadOnlyList<int> hostPorts)
    {
        FreeCpuMillis -= cpuMillis;
        FreeMemoryMib -= memoryMib;
        if (hostPorts.Count > 0)
        {
            (_usedPorts ??= []).UnionWith(hostPorts);
        }
    }

    /// <summary>The index into <see cref="Gpus"/> of the GPU with <paramref name="uuid"/>, or −1.</summary>
    public int FindGpu(string uuid)
    {
        for (var i = 0; i < Gpus.Length; i++)
        {
            if (string.Equals(Gpus[i].Snapshot.Uuid, uuid, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The index into <see cref="MigDevices"/> of the MIG device with <paramref name="uuid"/>, or −1.</summary>
    public int FindMig(string uuid)
    {
        for (var i = 0; i < MigDevices.Length; i++)
        {
            if (string.Equals(MigDevices[i].Snapshot.Uuid, uuid, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Recomputes the GPU summary after the GPUs' or MIG devices' holdings changed.</summary>
    public void RefreshGpuSummary()
    {
        var freeWhole = 0;
        long maxMemory = -1;
        var maxCore = -1;
        long maxPackedMemory = -1;
        var maxPackedCore = -1;
        foreach (ref readonly var gpu in Gpus.AsSpan())
        {
            if (!gpu.Shareable)
            {
                continue;
            }

            if (gpu.Slices == 0)
            {
                freeWhole++;
            }
            else
            {
                maxPackedMemory = Math.Max(maxPackedMemory, gpu.FreeMemoryMib);
                maxPackedCore = Math.Max(maxPackedCore, gpu.FreeCorePercent);
            }

            maxMemory = Math.Max(maxMemory, gpu.FreeMemoryMib);
            maxCore = Math.Max(maxCore, gpu.FreeCorePercent);
        }

        long maxMigMemory = -1;
        var maxMigCore = -1;
        for (var i = 0; i < MigDevices.Length; i++)
        {
            ref readonly var mig = ref MigDevices[i];
            if (IsMigFree(i))
            {
                maxMigMemory = Math.Max(maxMigMemory, mig.MemoryMib);
                maxMigCore = Math.Max(maxMigCore, mig.CorePercent);
            }
        }

        FreeWholeGpus = freeWhole;
        MaxSharedFreeMemoryMib = maxMemory;
        MaxSharedFreeCorePercent = maxCore;
        MaxFreeMigMemoryMib = maxMigMemory;
        MaxFreeMigCorePercent = maxMigCore;
        MaxPackedFreeMemoryMib = maxPackedMemory;
        MaxPackedFreeCorePercent = maxPackedCore;
    }
}
