namespace Eas.Node.Scheduler;

/// <summary>One physical GPU while a plan is being made: its snapshot and what is held on it.</summary>
internal struct GpuState
{
    /// <summary>Instances holding this GPU whole (more than one only in an over-committed snapshot).</summary>
    public int WholeHolders;

    /// <summary>Shared slices on this GPU.</summary>
    public int Slices;

    /// <summary>GPU memory the shared slices hold, in MiB.</summary>
    public long SliceMemoryMib;

    /// <summary>Compute the shared slices hold, in percent.</summary>
    public int SliceCorePercent;

    public GpuState(GpuSnapshot snapshot)
    {
        Snapshot = snapshot;
        MemoryMib = snapshot.MemoryMib;
        Healthy = snapshot.Healthy;
        Mig = snapshot.MigEnabled;
    }

    public GpuSnapshot Snapshot { get; }

    public long MemoryMib { get; }

    public bool Healthy { get; }

    /// <summary>MIG mode: only the GPU's MIG devices are allocatable.</summary>
    public bool Mig { get; }

    /// <summary>Takes new shared slices: healthy, not in MIG mode, not held whole.</summary>
    public readonly bool Shareable => Healthy && !Mig && WholeHolders == 0;

    /// <summary>Can be handed out whole: healthy, not in MIG mode, holding nothing.</summary>
    public readonly bool FreeWhole => Shareable && Slices == 0;

    public readonly long FreeMemoryMib => MemoryMib - SliceMemoryMib;

    public readonly int FreeCorePercent => 100 - SliceCorePercent;
}

/// <summary>One MIG device while a plan is being made.</summary>
internal struct MigState
{
    /// <summary>Instances holding this device (more than one only in an over-committed snapshot).</summary>
    public int Holders;

    public MigState(MigDeviceSnapshot snapshot, int gpu)
    {
        Snapshot = snapshot;
        Gpu = gpu;
        MemoryMib = snapshot.MemoryMib;
        CorePercent = CorePercentOf(snapshot.SliceCount);
    }

    public MigDeviceSnapshot Snapshot { get; }

    /// <summary>The parent GPU, as an index into <see cref="NodeState.Gpus"/>.</summary>
    public int Gpu { get; }

    public long MemoryMib { get; }

    /// <summary>The device's compute share: slice count × 100 / 7, rounded down.</summary>
    public int CorePercent { get; }

    /// <summary>A MIG device's compute share in percent: 1g = 14, 2g = 28, 3g = 42, 4g = 57, 7g = 100.</summary>
    public static int CorePercentOf(int sliceCount) => Math.Clamp(sliceCount, 0, 7) * 100 / 7;
}
