namespace Eas.Node.Scheduler;

/// <summary>
/// Where GPU work fits on one node (rules of the GPU placement, per node; choices are deterministic):
/// <list type="bullet">
/// <item>Whole GPUs: healthy GPUs outside MIG mode that hold nothing, lowest indexes first.</item>
/// <item>Slices: the smallest free MIG device that fits (memory, then slices, then UUID) — the
/// strongest isolation wins; only when none fits, a shared GPU where the slices' memory and compute
/// stay within the GPU, preferring GPUs that already hold slices (most memory used first), then the
/// lowest index, so that whole GPUs stay free for whole-GPU work.</item>
/// </list>
/// Nothing here allocates: it runs for every candidate node of every request.
/// </summary>
internal static class GpuFit
{
    /// <summary>Finds the slot a slice of <paramref name="request"/> takes on <paramref name="node"/>.</summary>
    public static bool TryFindSlice(NodeState node, PreparedRequest request, out GpuSlot slot)
    {
        var memory = request.SliceMemoryMib;
        var core = request.CorePercent;
        var model = request.Model;

        // The summaries bound what any device or GPU has free, so most full nodes stop here.
        if (node.MaxFreeMigMemoryMib >= memory && node.MaxFreeMigCorePercent >= core)
        {
            var migs = node.MigDevices;
            for (var i = 0; i < migs.Length; i++)
            {
                ref readonly var mig = ref migs[i];
                if (mig.MemoryMib >= memory && mig.CorePercent >= core && node.IsMigFree(i) && model.Matches(node, mig.Gpu))
                {
                    slot = new GpuSlot(GpuAssignmentKind.Mig, i);
                    return true;
                }
            }
        }

        if (node.MaxSharedFreeMemoryMib >= memory && node.MaxSharedFreeCorePercent >= core)
        {
            var gpus = node.Gpus;
            var best = -1;
            for (var i = 0; i < gpus.Length; i++)
            {
                ref readonly var gpu = ref gpus[i];
                if (!gpu.Shareable || gpu.FreeMemoryMib < memory || gpu.FreeCorePercent < core || !model.Matches(node, i))
                {
                    continue;
                }

                if (best < 0 || PacksBetter(gpu, gpus[best]))
                {
                    best = i;
                }
            }

            if (best >= 0)
            {
                slot = new GpuSlot(GpuAssignmentKind.Shared, best);
                return true;
            }
        }

        slot = default;
        return false;
    }

    /// <summary>Whether <paramref name="node"/> has at least <paramref name="wanted"/> free whole GPUs that <paramref name="model"/> accepts.</summary>
    public static bool HasFreeWhole(NodeState node, ModelFilter model, int wanted)
    {
        if (node.FreeWholeGpus < wanted)
        {
            return false;
        }

        if (model.IsAny)
        {
            return true;
        }

        var found = 0;
        var gpus = node.Gpus;
        for (var i = 0; i < gpus.Length && found < wanted; i++)
        {
            if (gpus[i].FreeWhole && model.Matches(node, i))
            {
                found++;
            }
        }

        return found >= wanted;
    }

    /// <summary>Free whole GPUs of <paramref name="node"/> that <paramref name="model"/> accepts.</summary>
    public static int CountFreeWhole(NodeState node, ModelFilter model)
    {
        var found = 0;
        for (var i = 0; i < node.Gpus.Length; i++)
        {
            if (node.Gpus[i].FreeWhole && model.Matches(node, i))
            {
                found++;
            }
        }

        return found;
    }

    /// <summary>Takes the <paramref name="wanted"/> lowest-index free GPUs <paramref name="model"/> accepts (the caller checked they exist).</summary>
    public static GpuAssignment TakeWhole(NodeState node, ModelFilter model, int wanted)
    {
        var uuids = new List<string>(wanted);
        long memory = 0;
        for (var i = 0; i < node.Gpus.Length && uuids.Count < wanted; i++)
        {
            ref var gpu = ref node.Gpus[i];
            if (gpu.FreeWhole && model.Matches(node, i))
            {
                gpu.WholeHolders++;
                uuids.Add(gpu.Snapshot.Uuid);
                memory += gpu.MemoryMib;
            }
        }

        node.RefreshGpuSummary();
        return new GpuAssignment(GpuAssignmentKind.Whole, uuids, "", memory, 100);
    }

    /// <summary>Takes <paramref name="slot"/> for a slice of <paramref name="memoryMib"/> and <paramref name="corePercent"/>.</summary>
    public static GpuAssignment TakeSlice(NodeState node, GpuSlot slot, long memoryMib, int corePercent)
    {
        GpuAssignment assignment;
        if (slot.Kind == GpuAssignmentKind.Mig)
        {
            ref var mig = ref node.MigDevices[slot.Index];
            mig.Holders++;
            assignment = new GpuAssignment(GpuAssignmentKind.Mig, [node.Gpus[mig.Gpu].Snapshot.Uuid], mig.Snapshot.Uuid, mig.MemoryMib, mig.CorePercent);
        }
        else
        {
            ref var gpu = ref node.Gpus[slot.Index];
            gpu.Slices++;
            gpu.SliceMemoryMib += memoryMib;
            gpu.SliceCorePercent += corePercent;
            assignment = new GpuAssignment(GpuAssignmentKind.Shared, [gpu.Snapshot.Uuid], "", memoryMib, corePercent);
        }

        node.RefreshGpuSummary();
        return assignment;
    }

    /// <summary>Counts what an existing instance holds against <paramref name="node"/>'s GPUs; names the node does not report are ignored.</summary>
    public static void Hold(NodeState node, GpuAssignment assignment)
    {
        switch (assignment.Kind)
        {
            case GpuAssignmentKind.Whole:
                foreach (var uuid in assignment.GpuUuids)
                {
                    if (node.FindGpu(uuid) is var i and >= 0)
                    {
                        node.Gpus[i].WholeHolders++;
                    }
                }

                break;
            case GpuAssignmentKind.Shared:
                if (assignment.GpuUuids.Count > 0 && node.FindGpu(assignment.GpuUuids[0]) is var g and >= 0)
                {
                    ref var gpu = ref node.Gpus[g];
                    gpu.Slices++;
                    gpu.SliceMemoryMib += assignment.MemoryMib;
                    gpu.SliceCorePercent += assignment.CorePercent;
                }

                break;
            case GpuAssignmentKind.Mig:
                if (node.FindMig(assignment.MigUuid) is var m and >= 0)
                {
                    node.MigDevices[m].Holders++;
                }

                break;
            default:
                return;
        }

        node.RefreshGpuSummary();
    }

    /// <summary>Bin-packing order among GPUs a slice fits on: one that already holds slices, then the most memory used.</summary>
    private static bool PacksBetter(in GpuState candidate, in GpuState best)
    {
        var candidateShared = candidate.Slices > 0;
        var bestShared = best.Slices > 0;
        if (candidateShared != bestShared)
        {
            return candidateShared;
        }

        return candidate.SliceMemoryMib > best.SliceMemoryMib;
    }
}
