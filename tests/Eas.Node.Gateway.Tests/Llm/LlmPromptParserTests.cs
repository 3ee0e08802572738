using System.Text;
using Eas.Node.Gateway.Llm;

namespace Eas.Node.Gateway.Tests.Llm;

/// <summary>Prompt extraction and block hashing of OpenAI request bodies.</summary>
public sealed class LlmPromptParserTests
{
    private const int Block = 64;

    [Fact]
    public void Completion_StringPrompt_ReadsStreamMaxTokensAndWholeBlocks()
    {
        var prompt = LlmTestData.Text(1, 1000);

        var (info, hashes) = Parse(LlmTestData.Completion(prompt, stream: true, maxTokens: 128));

        info.Kind.Should().Be(LlmRequestKind.Completion);
        info.Stream.Should().BeTrue();
        info.MaxTokens.Should().Be(128);
        info.PromptBytes.Should().Be(1000);
        info.BlockCount.Should().Be(1000 / Block);
        hashes.Should().OnlyHaveUniqueItems();
    }

    [Fact]
    public void Chat_MaxCompletionTokensAndNoStream_Read()
    {
        var body = """{"model":"m","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":7}"""u8.ToArray();

        var (info, _) = Parse(body);

        info.Kind.Should().Be(LlmRequestKind.Chat);
        info.Stream.Should().BeFalse();
        info.MaxTokens.Should().Be(7);
        info.PromptBytes.Should().Be("user\nhi\n".Length);
    }

    [Fact]
    public void SharedPrefix_SharesLeadingBlocksOnly()
    {
        var prefix = LlmTestData.Text(2, 640);
        var (_, a) = Parse(LlmTestData.Completion(prefix + LlmTestData.Text(3, 640)));
        var (_, b) = Parse(LlmTestData.Completion(prefix + LlmTestData.Text(4, 640)));

        a.Take(10).Should().Equal(b.Take(10));
        a.Skip(10).Should().NotIntersectWith(b.Skip(10));
    }

    [Fact]
    public void ChainedHashes_EqualTextAfterADifference_DoesNotMatch()
    {
        var tail = LlmTestData.Text(5, 640);
        var (_, a) = Parse(LlmTestData.Completion(LlmTestData.Text(6, 64) + tail));
        var (_, b) = Parse(LlmTestData.Completion(LlmTestData.Text(7, 64) + tail));

        a.Should().NotIntersectWith(b);
    }

    [Fact]
    public void PropertyOrder_DoesNotChangeHashes()
    {
        var text = LlmTestData.Text(8, 300);
        var first = Encoding.UTF8.GetBytes($$$"""{"model":"m","stream":true,"messages":[{"role":"user","content":"{{{text}}}"}]}""");
        var second = Encoding.UTF8.GetBytes($$$"""{"messages":[{"content":"{{{text}}}","role":"user"}],"stream":true,"model":"m"}""");

        Parse(first).Hashes.Should().NotBeEmpty().And.Equal(Parse(second).Hashes);
    }

    [Fact]
    public void DifferentModels_ShareNoBlocks()
    {
        var prompt = LlmTestData.Text(9, 640);

        Parse(LlmTestData.Completion(prompt, model: "a")).Hashes.Should().NotIntersectWith(Parse(LlmTestData.Completion(prompt, model: "b")).Hashes);
    }

    [Fact]
    public void CacheSaltAndTools_SeedTheHashes()
    {
        var text = LlmTestData.Text(10, 300);
        var plain = Encoding.UTF8.GetBytes($$$"""{"model":"m","messages":[{"role":"user","content":"{{{text}}}"}]}""");
        var salted = Encoding.UTF8.GetBytes($$$"""{"model":"m","cache_salt":"s1","messages":[{"role":"user","content":"{{{text}}}"}]}""");
        var tools = Encoding.UTF8.GetBytes($$$"""{"model":"m","tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":"{{{text}}}"}]}""");

        Parse(plain).Hashes.Should().NotIntersectWith(Parse(salted).Hashes).And.NotIntersectWith(Parse(tools).Hashes);
    }

    [Fact]
    public void Roles_ArePartOfTheText()
    {
        var text = LlmTestData.Text(11, 300);

        Parse(LlmTestData.Chat(text, "q")).Hashes.Should().NotIntersectWith(Parse(Encoding.UTF8.GetBytes($$$"""{"model":"m","messages":[{"role":"user","content":"{{{text}}}"}]}""")).Hashes);
    }

    [Fact]
    public void EscapedAndPlainSpellings_HashAlike()
    {
        var plain = Encoding.UTF8.GetBytes("{\"model\":\"m\",\"prompt\":\"" + new string('x', 60) + "\u00e9 line\\nnext " + new string('y', 70) + "\"}");
        var escaped = Encoding.UTF8.GetBytes("{\"model\":\"m\",\"prompt\":\"" + new string('x', 60) + "\\u00e9 line\\u000anext " + new string('y', 70) + "\"}");

        var (info, hashes) = Parse(plain);
        info.BlockCount.Should().Be(2);
        hashes.Should().Equal(Parse(escaped).Hashes);
    }

    [Fact]
    public void SurrogatePairEscape_HashesAsItsUtf8()
    {
        var plain = Encoding.UTF8.GetBytes("{\"prompt\":\"" + new string('x', 60) + "\U0001F600" + new string('y', 70) + "\"}");
        var escaped = Encoding.UTF8.GetBytes("{\"prompt\":\"" + new string('x', 60) + "\\ud83d\\ude00" + new string('y', 70) + "\"}");

        Parse(plain).Hashes.Should().HaveCount(2).And.Equal(Parse(escaped).Hashes);
    }

    [Fact]
    public void TextContentParts_HashLikeAStringContent()
    {
        var text = LlmTestData.Text(12, 300);
        var asString = Encoding.UTF8.GetBytes($$$"""{"messages":[{"role":"user","content":"{{{text}}}"}]}""");
        var asParts = Encoding.UTF8.GetBytes($$$"""{"messages":[{"role":"user","content":[{"type":"text","text":"{{{text[..100]}}}"},{"text":"{{{text[100..]}}}","type":"text"}]}]}""");

        Parse(asString).Hashes.Should().Equal(Parse(asParts).Hashes);
    }

    [Fact]
    public void ImageParts_CountByTheirJson()
    {
        var text = LlmTestData.Text(13, 100);
        var a = Encoding.UTF8.GetBytes($$$"""{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://x/a.png"}},{"type":"text","text":"{{{text}}}"}]}]}""");
        var b = Encoding.UTF8.GetBytes($$$"""{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://x/b.png"}},{"type":"text","text":"{{{text}}}"}]}]}""");

        var (info, hashes) = Parse(a);
        info.PromptBytes.Should().BeGreaterThan(100 + "user\n\n".Length);
        hashes.Should().NotBeEmpty().And.NotIntersectWith(Parse(b).Hashes);
    }

    [Fact]
    public void PromptArrayOfOneString_HashesLikeTheString()
    {
        var text = LlmTestData.Text(14, 300);

        Parse(Encoding.UTF8.GetBytes($$$"""{"prompt":["{{{text}}}"]}""")).Hashes.Should().Equal(Parse(Encoding.UTF8.GetBytes($$$"""{"prompt":"{{{text}}}"}""")).Hashes);
    }

    [Fact]
    public void TokenIdPrompts_ShareLeadingBlocksOfEqualIds()
    {
        var ids = string.Join(',', Enumerable.Range(1000, 100));
        var (info, a) = Parse(Encoding.UTF8.GetBytes($$$"""{"prompt":[{{{ids}}},1,2,3]}"""));
        var (_, b) = Parse(Encoding.UTF8.GetBytes($$$"""{"prompt":[{{{ids}}},4,5,6]}"""));

        info.Kind.Should().Be(LlmRequestKind.Completion);
        info.BlockCount.Should().BeGreaterThan(4);
        a.Take(4).Should().Equal(b.Take(4));
    }

    [Fact]
    public void LongPrompt_HashesUpToTheCapAndCountsEveryByte()
    {
        var (info, hashes) = Parse(LlmTestData.Completion(LlmTestData.Text(15, 64 * 1024)), maxBlocks: 256);

        info.BlockCount.Should().Be(256);
        hashes.Should().HaveCount(256);
        info.PromptBytes.Should().Be(64 * 1024);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("[1,2,3]")]
    [InlineData("{\"prompt\": \"unterminated")]
    [InlineData("{\"model\":\"m\",\"input\":\"embeddings have no prompt\"}")]
    public void NotACompletionsBody_UnknownWithoutBlocks(string body)
    {
        var (info, hashes) = Parse(Encoding.UTF8.GetBytes(body));

        info.Kind.Should().Be(LlmRequestKind.Unknown);
        hashes.Should().BeEmpty();
    }

    [Fact]
    public void ToolCallsAndNames_ArePartOfTheText()
    {
        var text = LlmTestData.Text(16, 200);
        var plain = Encoding.UTF8.GetBytes($$$"""{"messages":[{"role":"assistant","content":"{{{text}}}"}]}""");
        var named = Encoding.UTF8.GetBytes($$$"""{"messages":[{"role":"assistant","name":"bot","content":"{{{text}}}"}]}""");
        var withCalls = Encoding.UTF8.GetBytes($$$"""{"messages":[{"role":"assistant","content":"{{{text}}}","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}]}""");

        Parse(named).Info.PromptBytes.Should().Be(Parse(plain).Info.PromptBytes + "bot\n".Length);
        Parse(withCalls).Info.PromptBytes.Should().BeGreaterThan(Parse(plain).Info.PromptBytes);
    }

    private static (LlmPromptInfo Info, ulong[] Hashes) Parse(byte[] body, int maxBlocks = 1024)
    {
        var hashes = new ulong[maxBlocks];
        var info = LlmPromptParser.Parse(body, Block, hashes);
        return (info, hashes[..info.BlockCount]);
    }
}
