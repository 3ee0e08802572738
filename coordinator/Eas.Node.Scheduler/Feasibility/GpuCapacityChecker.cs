using System.Globalization;
using System.Text;

namespace Eas.Node.Scheduler.Feasibility;

/// <summary>
/// Refuses nodes where the GPU work does not fit now: too few free whole GPUs, or no MIG device and
/// no shared GPU with room for the slice (see <see cref="GpuFit"/>). For a slice it leaves the slot
/// it found in <see cref="PreparedRequest.Candidate"/>, for the packing ranker and the placement.
/// </summary>
internal sealed class GpuCapacityChecker : IFeasibilityChecker
{
    private const string TooFewGpus = "with too few free GPUs";
    private const string NoRoom = "without room on any GPU";

    public bool AppliesTo(PreparedRequest request) => request.Gpu != GpuWork.None;

    public string? Check(NodeState node, PreparedRequest request)
    {
        if (request.Gpu == GpuWork.Whole)
        {
            return GpuFit.HasFreeWhole(node, request.Model, request.WholeGpus) ? null : TooFewGpus;
        }

        if (GpuFit.TryFindSlice(node, request, out var slot))
        {
            request.Candidate = slot;
            return null;
        }

        return NoRoom;
    }

    /// <summary>
    /// "2 with too few free GPUs (0 of 2 free)" or "1 without room on any GPU (best: 21559 MiB, 10%
    /// free on GPU 0)": the room of the node closest to fitting, named when the refused nodes differ.
    /// </summary>
    public string Explain(IReadOnlyList<NodeState> refused, PreparedRequest request, string reason)
    {
        if (request.Gpu == GpuWork.Whole)
        {
            var (room, node) = Closest(refused, n => WholeRoom.Of(n, request.Model), r => r.Free);
            var phrase = request.Model.IsAny ? reason : $"with too few free {request.Model.Model} GPUs";
            var detail = node is null ? room.ToString() : $"at most {room}, on node {node}";
            return string.Create(CultureInfo.InvariantCulture, $"{refused.Count} {phrase} ({detail})");
        }
        else
        {
            var (room, node) = Closest(refused, n => SliceRoom.Of(n, request), r => r.Closeness);
            var detail = node is null ? room.ToString() : $"{room}, on node {node}";
            return string.Create(CultureInfo.InvariantCulture, $"{refused.Count} {reason} ({detail})");
        }
    }

    /// <summary>The room of the node closest to fitting (the first on ties), and that node's name unless every node has the same room.</summary>
    private static (TRoom Room, string? Node) Closest<TRoom>(IReadOnlyList<NodeState> nodes, Func<NodeState, TRoom> roomOf, Func<TRoom, double> closeness)
        where TRoom : struct, IEquatable<TRoom>
    {
        var first = roomOf(nodes[0]);
        var (best, bestRoom) = (0, first);
        var allAlike = true;
        for (var i = 1; i < nodes.Count; i++)
        {
            var room = roomOf(nodes[i]);
            allAlike &= room.Equals(first);
            if (closeness(room) > closeness(bestRoom))
            {
                (best, bestRoom) = (i, room);
            }
        }

        return (bestRoom, allAlike ? null : nodes[best].Name);
    }

    private static void AppendCount(StringBuilder text, int count, string what)
    {
        if (count > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $", {count} {what}");
        }
    }

    /// <summary>A node's GPUs of the requested model for whole-GPU work: free ones, and those that can never be whole.</summary>
    private readonly record struct WholeRoom(int Free, int Total, int Unhealthy, int Mig)
    {
        public static WholeRoom Of(NodeState node, ModelFilter model)
        {
            var (total, unhealthy, mig) = (0, 0, 0);
            for (var i = 0; i < node.Gpus.Length; i++)
            {
                if (model.Matches(node, i))
                {
                    total++;
                    unhealthy += node.Gpus[i].Healthy ? 0 : 1;
                    mig += node.Gpus[i].Healthy && node.Gpus[i].Mig ? 1 : 0;
                }
            }

            return new WholeRoom(GpuFit.CountFreeWhole(node, model), total, unhealthy, mig);
        }

        /// <summary>"0 of 2 free", "1 of 8 free, 1 unhealthy, 2 in MIG mode".</summary>
        public override string ToString()
        {
            var text = new StringBuilder().Append(CultureInfo.InvariantCulture, $"{Free} of {Total} free");
            AppendCount(text, Unhealthy, "unhealthy");
            AppendCount(text, Mig, "in MIG mode");
            return text.ToString();
        }
    }

    /// <summary>
    /// A node's room for a slice: the shareable GPU closest to fitting (or why none is shareable),
    /// and the largest free MIG device when the node has MIG devices.
    /// </summary>
    private readonly record struct SliceRoom(
        int GpuIndex, long FreeMemoryMib, int FreeCorePercent, double Closeness,
        int HeldWhole, int Mig, int Unhealthy,
        bool HasMigDevices, string? LargestFreeMig, long LargestFreeMigMemoryMib, int LargestFreeMigCorePercent)
    {
        public static SliceRoom Of(NodeState node, PreparedRequest request)
        {
            var model = request.Model;
            var best = -1;
            var closeness = double.NegativeInfinity;
            var (heldWhole, mig, unhealthy) = (0, 0, 0);
            for (var i = 0; i < node.Gpus.Length; i++)
            {
                ref readonly var gpu = ref node.Gpus[i];
                if (!model.Matches(node, i))
                {
                    continue;
                }

                if (gpu.Shareable)
                {
                    var close = ClosenessOf(gpu.FreeMemoryMib, gpu.FreeCorePercent, request);
                    if (close > closeness)
                    {
                        (best, closeness) = (i, close);
                    }
                }
                else if (!gpu.Healthy)
                {
                    unhealthy++;
                }
                else if (gpu.Mig)
                {
                    mig++;
                }
                else
                {
                    heldWhole++;
                }
            }

            var hasMigs = false;
            var largest = -1;
            for (var m = 0; m < node.MigDevices.Length; m++)
            {
                ref readonly var device = ref node.MigDevices[m];
                if (!node.Gpus[device.Gpu].Healthy || !model.Matches(node, device.Gpu))
                {
                    continue;
                }

                hasMigs = true;
                if (node.IsMigFree(m))
                {
                    largest = m; // devices are sorted smallest first
                }
            }

            var gpuRoom = best < 0 ? default : node.Gpus[best];
            var migRoom = largest < 0 ? default : node.MigDevices[largest];
            return new SliceRoom(
                best < 0 ? -1 : gpuRoom.Snapshot.Index, gpuRoom.FreeMemoryMib, gpuRoom.FreeCorePercent, closeness,
                heldWhole, mig, unhealthy,
                hasMigs, largest < 0 ? null : migRoom.Snapshot.Profile, migRoom.MemoryMib, migRoom.CorePercent);
        }

        /// <summary>"best: 21559 MiB, 10% free on GPU 0; largest free MIG device 1g.10gb (9856 MiB, 14%)".</summary>
        public override string ToString()
        {
            var text = new StringBuilder();
            if (GpuIndex >= 0)
            {
                text.Append(CultureInfo.InvariantCulture, $"best: {FreeMemoryMib} MiB, {FreeCorePercent}% free on GPU {GpuIndex}");
            }
            else
            {
                text.Append("no GPU to share");
                var before = text.Length;
                AppendCount(text, HeldWhole, "held whole");
                AppendCount(text, Mig, "in MIG mode");
                AppendCount(text, Unhealthy, "unhealthy");
                if (text.Length > before)
                {
                    text[before] = ':';
                }
            }

            if (HasMigDevices)
            {
                if (LargestFreeMig is null)
                {
                    text.Append("; every MIG device taken");
                }
                else
                {
                    text.Append(CultureInfo.InvariantCulture, $"; largest free MIG device {LargestFreeMig} ({LargestFreeMigMemoryMib} MiB, {LargestFreeMigCorePercent}%)");
                }
            }

            return text.ToString();
        }

        /// <summary>How close free room is to the slice: the smaller of the free/wanted ratios of memory and compute.</summary>
        private static double ClosenessOf(long freeMemoryMib, int freeCorePercent, PreparedRequest request)
        {
            var memory = (double)freeMemoryMib / request.SliceMemoryMib;
            return request.CorePercent == 0 ? memory : Math.Min(memory, (double)freeCorePercent / request.CorePercent);
        }
    }
}
