namespace Eas.Node.LlmSim;

/// <summary>One KV-cache block (<see cref="KvBlockManager.BlockSize"/> tokens).</summary>
public sealed class KvBlock
{
    internal KvBlock(int id)
    {
        Id = id;
        FreeNode = new LinkedListNode<KvBlock>(this);
    }

    /// <summary>Index in the pool.</summary>
    public int Id { get; }

    /// <summary>Running sequences that hold this block.</summary>
    public int RefCount { get; internal set; }

    /// <summary>The prefix hash of the full block this holds, when it is in the prefix cache.</summary>
    public ulong? Hash { get; internal set; }

    internal LinkedListNode<KvBlock> FreeNode { get; }
}

/// <summary>
/// The KV cache of one replica, like vLLM's block manager with automatic prefix caching: a fixed pool of blocks;
/// running sequences pin theirs (shared blocks are reference-counted); a full block is registered under its prefix
/// hash and, when no sequence holds it any more, stays in an LRU free list from which a later request with the same
/// prefix takes it back (a hit, no prefill) until a new allocation evicts it. Not thread-safe: the engine owns it.
/// </summary>
public sealed class KvBlockManager
{
    private readonly KvBlock[] _blocks;

    // Blocks nobody holds. Head = next to be reused (evicted first); blocks without a hash go to the head, cached
    // ones to the tail when freed, so reuse evicts the least recently used cached block only when nothing else is free.
    private readonly LinkedList<KvBlock> _free = new();
    private readonly Dictionary<ulong, KvBlock> _cached = [];

    public KvBlockManager(int totalBlocks, int blockSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(totalBlocks, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        BlockSize = blockSize;
        _blocks = new KvBlock[totalBlocks];
        for (var i = 0; i < totalBlocks; i++)
        {
            _blocks[i] = new KvBlock(i);
            _free.AddLast(_blocks[i].FreeNode);
        }
    }

    public int BlockSize { get; }

    public int TotalBlocks => _blocks.Length;

    /// <summary>Blocks no running sequence holds (some may still hold a cached prefix).</summary>
    public int FreeBlocks => _free.Count;

    /// <summary>Blocks held by running sequences.</summary>
    public int UsedBlocks => _blocks.Length - _free.Count;

    /// <summary>Blocks registered in the prefix cache (held or free).</summary>
    public int CachedBlocks => _cached.Count;

    /// <summary>Cached blocks dropped to make room.</summary>
    public long Evictions { get; private set; }

    /// <summary>Fraction of the pool held by running sequences (vLLM's kv_cache_usage_perc).</summary>
    public double Usage => (double)UsedBlocks / _blocks.Length;

    /// <summary>Blocks needed to hold <paramref name="tokens"/> tokens.</summary>
    public int BlocksFor(int tokens) => (tokens + BlockSize - 1) / BlockSize;

    /// <summary>Whether <paramref name="hash"/> is in the prefix cache.</summary>
    public bool IsCached(ulong hash) => _cached.ContainsKey(hash);

    /// <summary>
    /// The cached blocks of the longest cached prefix of <paramref name="blockHashes"/>, at most <paramref name="maxBlocks"/>.
    /// Does not take them; <see cref="TryAllocate"/> does.
    /// </summary>
    public List<KvBlock> Match(IReadOnlyList<ulong> blockHashes, int maxBlocks)
    {
        var hits = new List<KvBlock>();
        var n = Math.Min(maxBlocks, blockHashes.Count);
        for (var i = 0; i < n; i++)
        {
            if (!_cached.TryGetValue(blockHashes[i], out var block))
            {
                break;
            }

            hits.Add(block);
        }

        return hits;
    }

    /// <summary>
    /// Gives a newly admitted sequence its blocks: the prefix hits <paramref name="hits"/> (shared, taken out of the
    /// free list when nobody held them) and fresh blocks up to <paramref name="totalTokens"/> tokens. False, and no
    /// change, when the pool cannot supply them.
    /// </summary>
    public bool TryAllocate(List<KvBlock> seqBlocks, IReadOnlyList<KvBlock> hits, int totalTokens)
    {
        if (seqBlocks.Count != 0)
        {
            throw new InvalidOperationException("the sequence already holds blocks");
        }

        var fresh = Math.Max(0, BlocksFor(totalTokens) - hits.Count);
        var freeHits = 0;
        foreach (var hit in hits)
        {
            if (hit.RefCount == 0)
            {
                freeHits++;
            }
        }

        if (fresh > _free.Count - freeHits)
        {
            return false;
        }

        foreach (var hit in hits)
        {
            if (hit.RefCount == 0)
            {
                _free.Remove(hit.FreeNode);
            }

            hit.RefCount++;
            seqBlocks.Add(hit);
        }

        for (var i = 0; i < fresh; i++)
        {
            seqBlocks.Add(TakeFree());
        }

        return true;
    }

    /// <summary>Grows a running sequence's blocks to hold <paramref name="totalTokens"/>; false, and no change, when the pool is short.</summary>
    public bool TryGrow(List<KvBlock> seqBlocks, int totalTokens)
    {
        var more = BlocksFor(totalTokens) - seqBlocks.Count;
        if (more <= 0)
        {
            return true;
        }

        if (more > _free.Count)
        {
            return false;
        }

        for (var i = 0; i < more; i++)
        {
            seqBlocks.Add(TakeFree());
        }

        return true;
    }

    /// <summary>
    /// Registers a block that has just become full under its prefix hash. When another block already holds the same
    /// prefix (two requests prefilled it at once) this one stays unregistered, as in vLLM.
    /// </summary>
    public void Register(KvBlock block, ulong hash)
    {
        if (block.Hash is not null || _cached.ContainsKey(hash))
        {
            return;
        }

        block.Hash = hash;
        _cached[hash] = block;
    }

    /// <summary>Releases a sequence's blocks (last block first, so a prefix's first blocks stay cached the longest).</summary>
    public void Free(List<KvBlock> seqBlocks)
    {
        for (var i = seqBlocks.Count - 1; i >= 0; i--)
        {
            var block = seqBlocks[i];
            block.RefCount--;
            if (block.RefCount > 0)
            {
                continue;
            }

            if (block.Hash is null)
            {
                _free.AddFirst(block.FreeNode);
            }
            else
            {
                _free.AddLast(block.FreeNode);
            }
        }

        seqBlocks.Clear();
    }

    private KvBlock TakeFree()
    {
        var node = _free.First ?? throw new InvalidOperationException("no free KV block");
        _free.RemoveFirst();
        var block = node.Value;
        if (block.Hash is { } hash)
        {
            _cached.Remove(hash);
            block.Hash = null;
            Evictions++;
        }

        block.RefCount = 1;
        return block;
    }
}
