namespace Eas.Node.LlmSim.Tests;

public class PrefixCacheTests
{
    private static List<ulong> Words(int count, int salt = 0) =>
        Enumerable.Range(0, count).Select(i => Tokenizer.WordId($"w{salt}-{i}")).ToList();

    private static List<ulong> Hashes(IReadOnlyList<ulong> tokens, int blockSize = 4, ulong seed = 1)
    {
        var hashes = new List<ulong>();
        for (var b = 0; (b + 1) * blockSize <= tokens.Count; b++)
        {
            hashes.Add(Tokenizer.BlockHash(hashes.Count == 0 ? seed : hashes[^1], tokens, b * blockSize, blockSize));
        }

        return hashes;
    }

    /// <summary>Allocates blocks for <paramref name="hashes"/>.Count full blocks and registers them, as a finished prefill would.</summary>
    private static List<KvBlock> Fill(KvBlockManager kv, IReadOnlyList<ulong> hashes)
    {
        var blocks = new List<KvBlock>();
        kv.TryAllocate(blocks, kv.Match(hashes, hashes.Count), hashes.Count * kv.BlockSize).Should().BeTrue();
        for (var i = 0; i < hashes.Count; i++)
        {
            kv.Register(blocks[i], hashes[i]);
        }

        return blocks;
    }

    [Fact]
    public void BlockHash_IsChained_SoEqualBlocksAfterDifferentPrefixesDiffer()
    {
        var a = Words(8, salt: 1);
        var b = Words(8, salt: 2);
        var sharedSecondBlock = a.Take(4).Concat(a.Skip(4)).ToList();
        var otherFirstBlock = b.Take(4).Concat(a.Skip(4)).ToList();

        var ha = Hashes(a);
        Hashes(sharedSecondBlock).Should().Equal(ha, "same tokens, same chain");
        var hOther = Hashes(otherFirstBlock);
        hOther[1].Should().NotBe(ha[1], "block 2 has the same tokens but follows a different block 1");
        Hashes(a, seed: 2)[0].Should().NotBe(ha[0], "the seed (model name) is part of the chain");
    }

    [Fact]
    public void Match_ReturnsTheLongestCachedPrefix_AndStopsAtTheFirstMiss()
    {
        var kv = new KvBlockManager(totalBlocks: 16, blockSize: 4);
        var tokens = Words(16);
        var hashes = Hashes(tokens);
        var blocks = Fill(kv, hashes.Take(3).ToList());
        kv.Free(blocks);

        kv.Match(hashes, 10).Should().HaveCount(3);
        kv.Match(hashes, 2).Should().HaveCount(2, "capped by maxBlocks");

        var diverging = tokens.Take(4).Concat(Words(12, salt: 9)).ToList();
        kv.Match(Hashes(diverging), 10).Should().HaveCount(1, "only the first block is shared");
    }

    [Fact]
    public void FreedBlocks_StayCached_AndAHitTakesThemBackWithoutNewAllocation()
    {
        var kv = new KvBlockManager(totalBlocks: 8, blockSize: 4);
        var hashes = Hashes(Words(16));
        var first = Fill(kv, hashes);
        var firstBlocks = first.ToList();
        kv.UsedBlocks.Should().Be(4);
        kv.Free(first);
        kv.UsedBlocks.Should().Be(0);
        kv.CachedBlocks.Should().Be(4);

        var hits = kv.Match(hashes, 4);
        var second = new List<KvBlock>();
        kv.TryAllocate(second, hits, 18).Should().BeTrue();

        second.Take(4).Should().Equal(firstBlocks, "the same physical blocks come back");
        second.Should().HaveCount(5, "18 tokens need one fresh block after the 4 hits");
        kv.UsedBlocks.Should().Be(5);
        kv.Evictions.Should().Be(0);
    }

    [Fact]
    public void SharedBlocks_AreReferenceCounted_AndStayHeldUntilTheLastHolderFrees()
    {
        var kv = new KvBlockManager(totalBlocks: 8, blockSize: 4);
        var hashes = Hashes(Words(8));
        var a = Fill(kv, hashes);
        var b = new List<KvBlock>();
        kv.TryAllocate(b, kv.Match(hashes, 2), 8).Should().BeTrue();

        b.Should().Equal(a);
        a.Should().OnlyContain(x => x.RefCount == 2);
        kv.UsedBlocks.Should().Be(2);
        kv.Free(a);
        kv.UsedBlocks.Should().Be(2, "b still holds both blocks");
        kv.Free(b);
        kv.UsedBlocks.Should().Be(0);
    }

    [Fact]
    public void Eviction_IsLeastRecentlyUsedFirst()
    {
        var kv = new KvBlockManager(totalBlocks: 4, blockSize: 4);
        var older = Hashes(Words(8, salt: 1));
        var newer = Hashes(Words(8, salt: 2));
        kv.Free(Fill(kv, older));
        kv.Free(Fill(kv, newer));

        // Use "older" again: it becomes the most recently used.
        var again = new List<KvBlock>();
        kv.TryAllocate(again, kv.Match(older, 2), 8).Should().BeTrue();
        kv.Free(again);

        // Two fresh blocks must evict two cached ones: "newer" is now the least recently used.
        var fresh = new List<KvBlock>();
        kv.TryAllocate(fresh, [], 8).Should().BeTrue();

        kv.Match(older, 2).Should().HaveCount(2);
        kv.Match(newer, 2).Should().BeEmpty();
        kv.Evictions.Should().Be(2);
    }

    [Fact]
    public void AFreedSequence_LosesItsLastBlocksFirst_SoItsPrefixStaysLongest()
    {
        var kv = new KvBlockManager(totalBlocks: 4, blockSize: 4);
        var hashes = Hashes(Words(16));
        kv.Free(Fill(kv, hashes));

        var fresh = new List<KvBlock>();
        kv.TryAllocate(fresh, [], 4).Should().BeTrue();

        kv.Match(hashes, 4).Should().HaveCount(3, "the tail block went first; the first three still chain");
    }

    [Fact]
    public void UncachedFreeBlocks_AreReusedBeforeCachedOnes()
    {
        var kv = new KvBlockManager(totalBlocks: 4, blockSize: 4);
        var hashes = Hashes(Words(8));
        var blocks = new List<KvBlock>();
        kv.TryAllocate(blocks, [], 12).Should().BeTrue(); // 3 blocks, the third partial (never registered)
        kv.Register(blocks[0], hashes[0]);
        kv.Register(blocks[1], hashes[1]);
        kv.Free(blocks);

        var fresh = new List<KvBlock>();
        kv.TryAllocate(fresh, [], 8).Should().BeTrue();

        kv.Evictions.Should().Be(0, "the untouched block and the partial one were free for the taking");
        kv.Match(hashes, 2).Should().HaveCount(2);
    }

    [Fact]
    public void TryAllocate_FailsWithoutSideEffects_WhenThePoolIsShort_CountingFreeHitsAsConsumed()
    {
        var kv = new KvBlockManager(totalBlocks: 4, blockSize: 4);
        var hashes = Hashes(Words(8));
        kv.Free(Fill(kv, hashes)); // 2 cached free blocks + 2 empty

        var blocks = new List<KvBlock>();
        kv.TryAllocate(blocks, kv.Match(hashes, 2), 8 + 12).Should().BeFalse("2 hits + 3 fresh > 4 blocks");
        blocks.Should().BeEmpty();
        kv.FreeBlocks.Should().Be(4);
        kv.CachedBlocks.Should().Be(2);

        kv.TryAllocate(blocks, kv.Match(hashes, 2), 8 + 8).Should().BeTrue("2 hits + 2 fresh = 4 blocks");
        kv.FreeBlocks.Should().Be(0);
        kv.Usage.Should().Be(1.0);
    }

    [Fact]
    public void Register_KeepsTheFirstBlockForAHash_WhenTwoRequestsPrefilledTheSamePrefix()
    {
        var kv = new KvBlockManager(totalBlocks: 4, blockSize: 4);
        var hash = Hashes(Words(4))[0];
        var a = new List<KvBlock>();
        var b = new List<KvBlock>();
        kv.TryAllocate(a, [], 4).Should().BeTrue();
        kv.TryAllocate(b, [], 4).Should().BeTrue();

        kv.Register(a[0], hash);
        kv.Register(b[0], hash);

        a[0].Hash.Should().Be(hash);
        b[0].Hash.Should().BeNull();
        kv.CachedBlocks.Should().Be(1);
        kv.Match([hash], 1).Should().Equal(a[0]);
    }
}
