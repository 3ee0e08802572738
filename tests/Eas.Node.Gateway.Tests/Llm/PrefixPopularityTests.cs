using Eas.Node.Gateway.Llm;

namespace Eas.Node.Gateway.Tests.Llm;

/// <summary>Which prompt prefix is shared by enough of the traffic to be worth caching on every replica.</summary>
public sealed class PrefixPopularityTests
{
    [Theory]
    [InlineData(4)]
    [InlineData(65)]
    [InlineData(115)]
    [InlineData(128)]
    [InlineData(300)]
    public void OneSharedPrompt_HotDepthIsExactlyItsLength_WhateverFollows(int shared)
    {
        var popularity = new PrefixPopularity();
        for (var i = 0; i < 400; i++)
        {
            popularity.Record(Prompt(shared, prefix: 1, suffix: 1000 + i, suffixBlocks: 20));
        }

        popularity.HotDepth(Prompt(shared, prefix: 1, suffix: 99_999, suffixBlocks: 20), share: 1, replicas: 4).Should().Be(shared);
        popularity.Entries.Should().BeLessThan(shared + 400 + 20, "a unique suffix adds one entry, not one per block");
    }

    [Theory]
    [InlineData(115)]
    [InlineData(300)]
    [InlineData(1000)]
    public void ANewSharedPrompt_IsTracedToItsFullLength_WithinTheMinimumSample(int shared)
    {
        var popularity = new PrefixPopularity();
        var requests = 0;
        while (popularity.HotDepth(Prompt(shared, prefix: 1, suffix: 99_999, suffixBlocks: 20), share: 1, replicas: 4) < shared)
        {
            requests.Should().BeLessThan(20, "the second request with a prompt traces all of it, not one block per request");
            popularity.Record(Prompt(shared, prefix: 1, suffix: requests++, suffixBlocks: 20));
        }

        popularity.HotDepth(Prompt(shared, prefix: 1, suffix: 99_999, suffixBlocks: 20), share: 1, replicas: 4).Should().Be(shared, "never deeper than what is shared");
    }

    [Fact]
    public void TwoPromptsHalfTheTrafficEach_BothHotForFourReplicas_NeitherForOne()
    {
        var popularity = new PrefixPopularity();
        for (var i = 0; i < 400; i++)
        {
            popularity.Record(Prompt(50 + (i % 2 * 30), prefix: 1 + (i % 2), suffix: 1000 + i, suffixBlocks: 8));
        }

        popularity.HotDepth(Prompt(50, prefix: 1, suffix: 5, suffixBlocks: 8), share: 1, replicas: 4).Should().Be(50);
        popularity.HotDepth(Prompt(80, prefix: 2, suffix: 5, suffixBlocks: 8), share: 1, replicas: 4).Should().Be(80);
        popularity.HotDepth(Prompt(80, prefix: 2, suffix: 5, suffixBlocks: 8), share: 1, replicas: 1).Should().Be(0, "one replica needs no replication");
        popularity.HotDepth(Prompt(80, prefix: 2, suffix: 5, suffixBlocks: 8), share: 0, replicas: 4).Should().Be(0, "share 0 turns it off");
    }

    [Fact]
    public void ManyTenantPrompts_NoneIsHot()
    {
        var popularity = new PrefixPopularity();
        for (var i = 0; i < 2000; i++)
        {
            popularity.Record(Prompt(40, prefix: 10 + (i % 64), suffix: 1000 + i, suffixBlocks: 8));
        }

        popularity.HotDepth(Prompt(40, prefix: 10, suffix: 5, suffixBlocks: 8), share: 1, replicas: 4).Should().Be(0);
    }

    [Fact]
    public void TheMixChanges_TheOldPromptCoolsAndTheNewOneHeats()
    {
        var popularity = new PrefixPopularity();
        for (var i = 0; i < 3000; i++)
        {
            popularity.Record(Prompt(60, prefix: 1, suffix: 1000 + i, suffixBlocks: 8));
        }

        for (var i = 0; i < 3000; i++)
        {
            popularity.Record(Prompt(90, prefix: 2, suffix: 10_000 + i, suffixBlocks: 8));
        }

        popularity.HotDepth(Prompt(60, prefix: 1, suffix: 5, suffixBlocks: 8), share: 1, replicas: 4).Should().Be(0);
        popularity.HotDepth(Prompt(90, prefix: 2, suffix: 5, suffixBlocks: 8), share: 1, replicas: 4).Should().Be(90);
    }

    [Fact]
    public void AfterLongTrafficOfManyPrompts_ANewSharedPromptIsHotWithinAFewDozenRequests()
    {
        // A service that served 64 tenants' prompts for a while, then everyone sends one new system prompt.
        var popularity = new PrefixPopularity();
        for (var i = 0; i < 5000; i++)
        {
            popularity.Record(Prompt(40, prefix: 10 + (i % 64), suffix: 1000 + i, suffixBlocks: 8));
        }

        var requests = 0;
        while (popularity.HotDepth(Prompt(115, prefix: 1, suffix: 99_999, suffixBlocks: 8), share: 1, replicas: 4) < 115)
        {
            requests.Should().BeLessThan(40, "shares follow the recent mix, not the whole history");
            popularity.Record(Prompt(115, prefix: 1, suffix: requests++, suffixBlocks: 8));
        }
    }

    [Fact]
    public void TooFewRequests_NothingIsHot()
    {
        var popularity = new PrefixPopularity();
        for (var i = 0; i < 10; i++)
        {
            popularity.Record(Prompt(30, prefix: 1, suffix: i, suffixBlocks: 4));
        }

        popularity.HotDepth(Prompt(30, prefix: 1, suffix: 5, suffixBlocks: 4), share: 1, replicas: 4).Should().Be(0);
    }

    // Chained block hashes as the prompt parser makes them: each names the whole prompt up to its block.
    private static ulong[] Prompt(int sharedBlocks, int prefix, int suffix, int suffixBlocks)
    {
        var blocks = new ulong[sharedBlocks + suffixBlocks];
        var hash = (ulong)prefix * 0x9E3779B97F4A7C15;
        for (var i = 0; i < blocks.Length; i++)
        {
            var content = i < sharedBlocks ? (ulong)i : ((ulong)suffix << 20) + (ulong)i;
            hash = (hash ^ content) * 0x100000001B3 + 0x9E3779B97F4A7C15;
            blocks[i] = hash;
        }

        return blocks;
    }
}
