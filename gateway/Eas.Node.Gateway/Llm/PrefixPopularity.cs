using System.Runtime.InteropServices;

namespace Eas.Node.Gateway.Llm;

/// <summary>
/// How many of a service's recent requests start with each prompt prefix, to tell a prefix shared by everyone — a
/// common system prompt, worth caching on every replica — from a tenant's or a conversation's own. A prefix is named by
/// its last block's chained hash, so counts form a trie: a request counts at every depth it shares with requests seen
/// before and at the first depth it does not (a new path grows one block per repeat), which keeps a unique suffix to a
/// single entry and makes a prefix's count never smaller than a longer one's. Counts halve every <see cref="Window"/>
/// requests, so shares follow the recent mix. Guarded by the service lock.
/// </summary>
internal sealed class PrefixPopularity
{
    private const int MinDepth = 4;
    private const int Window = 1024;
    private const int MinSample = 16;
    private const int MaxKeys = 16384;

    private readonly Dictionary<ulong, int> _counts = [];
    private int _total;

    /// <summary>Prefixes counted now (a memory bound: a request with a never-seen suffix adds one).</summary>
    public int Entries => _counts.Count;

    /// <summary>Counts one routed request by the prefixes of <paramref name="blocks"/> (a request without blocks counts in the total only).</summary>
    public void Record(ReadOnlySpan<ulong> blocks)
    {
        foreach (var block in blocks)
        {
            ref var count = ref CollectionsMarshal.GetValueRefOrAddDefault(_counts, block, out var existed);
            count++;
            if (!existed)
            {
                break;
            }
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

    private bool IsHot(ulong block, double needed) => _counts.TryGetValue(block, out var count) && count >= needed;

    private void Decay()
    {
        _total /= 2;
        var floor = _counts.Count > MaxKeys ? 1 : 0;
        foreach (var (key, count) in _counts)
        {
            var halved = count / 2;
            if (halved <= floor)
            {
                _counts.Remove(key);
            }
            else
            {
                _counts[key] = halved;
            }
        }
    }
}
