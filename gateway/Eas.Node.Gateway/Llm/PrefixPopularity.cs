namespace Eas.Node.Gateway.Llm;

/// <summary>
/// How much of a service's recent traffic starts with each prompt prefix, at depths of 4, 8, 16, … blocks (a chained
/// block hash names the whole prefix up to it), to tell a prefix shared by everyone — a common system prompt, worth
/// caching on every replica — from a tenant's or a conversation's own. Counts halve every <see cref="Window"/>
/// requests, so shares follow the recent mix. Guarded by the service lock.
/// </summary>
internal sealed class PrefixPopularity
{
    private const int FirstDepth = 4;
    private const int Window = 1024;
    private const int MinSample = 16;
    private const int MaxKeys = 16384;

    private readonly Dictionary<ulong, int> _counts = [];
    private int _total;

    /// <summary>Counts one routed request by the prefixes of <paramref name="blocks"/> (a request without blocks counts in the total only).</summary>
    public void Record(ReadOnlySpan<ulong> blocks)
    {
        for (var depth = FirstDepth; depth <= blocks.Length; depth *= 2)
        {
            ref var count = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_counts, blocks[depth - 1], out _);
            count++;
        }

        if (++_total >= Window)
        {
            Decay();
        }
    }

    /// <summary>
    /// The deepest prefix of <paramref name="blocks"/> (in blocks) that at least <paramref name="share"/> ÷
    /// <paramref name="replicas"/> of the recent requests started with; 0 when none is that common.
    /// </summary>
    public int HotDepth(ReadOnlySpan<ulong> blocks, double share, int replicas)
    {
        if (share <= 0 || replicas < 2 || _total < MinSample)
        {
            return 0;
        }

        var needed = share * _total / replicas;
        var hot = 0;
        for (var depth = FirstDepth; depth <= blocks.Length; depth *= 2)
        {
            // A longer prefix is never more common than a shorter one, so the first cold depth ends the search.
            if (!_counts.TryGetValue(blocks[depth - 1], out var count) || count < needed)
            {
                break;
            }

            hot = depth;
        }

        return hot;
    }

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
