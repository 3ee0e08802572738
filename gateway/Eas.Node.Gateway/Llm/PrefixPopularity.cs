using System.Runtime.InteropServices;

namespace Eas.Node.Gateway.Llm;

/// <summary>
/// How many of a service's recent requests start with each prompt prefix, to tell a prefix shared by everyone — a
/// common system prompt, worth caching on every replica — from a tenant's or a conversation's own. A prefix is named by
/// its last block's chained hash, so the counts form a trie: a request counts at every depth it shares with requests
/// seen before and then adds its first new depth, so a unique suffix costs one entry and a prefix's count is never
/// smaller than a longer one's. A request that goes on from a leaf (a depth nobody went deeper from yet) traces the
/// rest of its prompt, so the second request with a new shared prompt traces it to its full length: each leaf is
/// grown once, and a unique suffix that branches off a known path still costs one entry. Counts halve whenever the
/// total reaches <see cref="Window"/> (every 32 requests), so shares follow the last hundred or so requests and a new
/// shared prompt is hot within a few dozen. Guarded by the service lock.
/// </summary>
internal sealed class PrefixPopularity
{
    private const int MinDepth = 4;
    private const int Window = 64;
    private const int MinSample = 16;
    private const int MaxKeys = 16384;
    private const int MaxGrowth = 8192;

    private readonly Dictionary<ulong, Entry> _counts = [];
    private int _total;

    /// <summary>Prefixes counted now (a memory bound: a request with a never-seen suffix adds one).</summary>
    public int Entries => _counts.Count;

    /// <summary>Counts one routed request by the prefixes of <paramref name="blocks"/> (a request without blocks counts in the total only).</summary>
    public void Record(ReadOnlySpan<ulong> blocks)
    {
        var belowLeaf = false;
        for (var depth = 0; depth < blocks.Length; depth++)
        {
            ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(_counts, blocks[depth], out var existed);
            entry.Count++;
            if (existed)
            {
                belowLeaf = !entry.HasChild;
                continue;
            }

            // The first depth nobody reached before: below a leaf (nobody went on from there yet) the whole rest of the
            // prompt is traced, below a branch point only this depth.
            var end = belowLeaf ? Math.Min(blocks.Length, depth + MaxGrowth) : depth + 1;
            for (var next = depth + 1; next < end; next++)
            {
                CollectionsMarshal.GetValueRefOrAddDefault(_counts, blocks[next], out _).Count++;
            }

            for (var parent = Math.Max(0, depth - 1); parent < end - 1; parent++)
            {
                CollectionsMarshal.GetValueRefOrNullRef(_counts, blocks[parent]).HasChild = true;
            }

            break;
        }

        if (++_total >= Window)
        {
            Decay();
        }
    }

    /// <summary>
    /// The deepest prefix of <paramref name="blocks"/> (in blocks, at least 4) that at least <paramref name="share"/> ÷
    /// <paramref name="replicas"/> of the recent requests started with; 0 when none is that common.
    /// </summary>
    public int HotDepth(ReadOnlySpan<ulong> blocks, double share, int replicas)
    {
        if (share <= 0 || replicas < 2 || _total < MinSample || blocks.Length < MinDepth)
        {
            return 0;
        }

        var needed = share * _total / replicas;
        if (!IsHot(blocks[MinDepth - 1], needed))
        {
            return 0;
        }

        // Counts shrink with depth along one prompt, so the hot depths are a run from the first block: binary search its end.
        var hot = MinDepth;
        var cold = blocks.Length + 1;
        while (cold - hot > 1)
        {
            var depth = hot + ((cold - hot) / 2);
            if (IsHot(blocks[depth - 1], needed))
            {
                hot = depth;
            }
            else
            {
                cold = depth;
            }
        }

        return hot;
    }

    private bool IsHot(ulong block, double needed) => _counts.TryGetValue(block, out var entry) && entry.Count >= needed;

    private void Decay()
    {
        _total /= 2;
        var floor = _counts.Count > MaxKeys ? 1 : 0;
        foreach (var (key, entry) in _counts)
        {
            var halved = entry.Count / 2;
            if (halved <= floor)
            {
                _counts.Remove(key);
            }
            else
            {
                _counts[key] = entry with { Count = halved };
            }
        }
    }

    private record struct Entry(int Count, bool HasChild);
}
