using System.Buffers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;

namespace Eas.Node.LlmSim.Tests;

public class EngineRunnerTests
{
    private static readonly EngineConfig _config = new()
    {
        PrefillUsPerToken = 1000,
        DecodeMsPerStep = 10,
        DecodeBatchFactor = 0,
    };

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        condition().Should().BeTrue("the engine loop should have got there within 5 s");
    }

    [Fact]
    public async Task EachStep_WaitsOnTheTimeProvider_ForItsModelledDuration()
    {
        var time = new FakeTimeProvider();
        await using var runner = new EngineRunner(new EngineCore(_config), time);
        runner.Start();
        var prompt = Enumerable.Range(0, 100).Select(i => Tokenizer.WordId($"w{i}")).ToList();

        var seq = runner.TrySubmit(prompt, maxTokens: 2)!;
        await WaitUntilAsync(() => runner.Read(c => c.RunningCount) == 1);
        await Task.Delay(100); // real time: the loop is parked on the fake clock, so nothing may happen

        seq.Events.TryRead(out _).Should().BeFalse("no virtual time has passed");
        time.Advance(TimeSpan.FromMilliseconds(99));
        await Task.Delay(100);
        seq.Events.TryRead(out _).Should().BeFalse("100 prompt tokens at 1 ms take 100 ms");

        time.Advance(TimeSpan.FromMilliseconds(1));
        await WaitUntilAsync(() => seq.Generated == 1);
        (await seq.Events.ReadAsync()).Index.Should().Be(0);

        await Task.Delay(100);
        time.Advance(TimeSpan.FromMilliseconds(9));
        await Task.Delay(100);
        seq.Generated.Should().Be(1, "a decode step takes 10 ms");
        time.Advance(TimeSpan.FromMilliseconds(1));
        await WaitUntilAsync(() => seq.State == SequenceState.Finished);
        (await seq.Events.ReadAsync()).Last.Should().BeTrue();
        runner.Read(c => c.Stats.TimeToFirstToken.Sum).Should().BeApproximately(0.100, 1e-6);
    }

    [Fact]
    public async Task TrySubmit_RefusesWhenTheWaitingQueueIsFull()
    {
        await using var runner = new EngineRunner(new EngineCore(_config), new FakeTimeProvider());
        var prompt = new List<ulong> { 1, 2, 3 };

        runner.TrySubmit([.. prompt], 1, maxWaiting: 2).Should().NotBeNull();
        runner.TrySubmit([.. prompt], 1, maxWaiting: 2).Should().NotBeNull();
        runner.TrySubmit([.. prompt], 1, maxWaiting: 2).Should().BeNull("two already wait and the loop is not started");
        runner.Read(c => c.Stats.Rejected).Should().Be(1);
    }
}

public class SseFormatTests
{
    private static List<string> Events(ArrayBufferWriter<byte> buffer)
    {
        var text = Encoding.UTF8.GetString(buffer.WrittenSpan);
        text.Should().EndWith("\n\n");
        return text[..^2].Split("\n\n").ToList();
    }

    private static JsonElement Json(string sseEvent)
    {
        sseEvent.Should().StartWith("data: ");
        sseEvent.Should().NotContain("\n", "one data line per event");
        return JsonDocument.Parse(sseEvent["data: ".Length..]).RootElement;
    }

    [Fact]
    public void AChatStream_IsRoleThenContentDeltas_FinishReasonOnTheLast_UsageThenDone()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new ResponseWriter(buffer, chat: true, "chatcmpl-1", 1700000000, "sim-llm", "r1"))
        {
            w.WriteTokenEvent(new TokenEvent(0, 0, false));
            w.WriteTokenEvent(new TokenEvent(1, 1, true));
            w.WriteUsageEvent(promptTokens: 10, completionTokens: 2, cachedTokens: 8);
            w.WriteDone();
        }

        var events = Events(buffer);
        events.Should().HaveCount(4);
        var first = Json(events[0]);
        first.GetProperty("object").GetString().Should().Be("chat.completion.chunk");
        first.GetProperty("id").GetString().Should().Be("chatcmpl-1");
        first.GetProperty("replica").GetString().Should().Be("r1");
        var delta = first.GetProperty("choices")[0].GetProperty("delta");
        delta.GetProperty("role").GetString().Should().Be("assistant");
        delta.GetProperty("content").GetString().Should().Be(" " + OutputVocabulary.Words[0]);
        first.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind.Should().Be(JsonValueKind.Null);

        var second = Json(events[1]).GetProperty("choices")[0];
        second.GetProperty("delta").TryGetProperty("role", out _).Should().BeFalse("only the first delta carries the role");
        second.GetProperty("finish_reason").GetString().Should().Be("length");

        var usage = Json(events[2]);
        usage.GetProperty("choices").GetArrayLength().Should().Be(0);
        usage.GetProperty("usage").GetProperty("prompt_tokens").GetInt32().Should().Be(10);
        usage.GetProperty("usage").GetProperty("completion_tokens").GetInt32().Should().Be(2);
        usage.GetProperty("usage").GetProperty("total_tokens").GetInt32().Should().Be(12);
        usage.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32().Should().Be(8);
        events[3].Should().Be("data: [DONE]");
    }

    [Fact]
    public void ACompletionsChunk_CarriesText()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new ResponseWriter(buffer, chat: false, "cmpl-1", 1, "m", "r2"))
        {
            w.WriteTokenEvent(new TokenEvent(0, 5, true));
        }

        var chunk = Json(Events(buffer).Single());
        chunk.GetProperty("object").GetString().Should().Be("text_completion");
        chunk.GetProperty("choices")[0].GetProperty("text").GetString().Should().Be(" " + OutputVocabulary.Words[5]);
        chunk.GetProperty("choices")[0].GetProperty("finish_reason").GetString().Should().Be("length");
    }

    [Fact]
    public void AWholeChatResponse_HasTheMessageAndUsage()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new ResponseWriter(buffer, chat: true, "chatcmpl-2", 1, "m", "r3"))
        {
            w.WriteWhole(" kalo kami", 7, 2, 0);
        }

        var body = JsonDocument.Parse(buffer.WrittenMemory).RootElement;
        body.GetProperty("object").GetString().Should().Be("chat.completion");
        body.GetProperty("replica").GetString().Should().Be("r3");
        body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString().Should().Be(" kalo kami");
        body.GetProperty("usage").GetProperty("total_tokens").GetInt32().Should().Be(9);
    }

    [Fact]
    public void TheTokenizer_CountsWords_AndRendersChatWithRoleMarkers()
    {
        Tokenizer.Prompt("  one two\tthree\nfour ").Should().HaveCount(4);
        Tokenizer.Prompt("a b").Should().Equal(Tokenizer.Prompt("a   b"), "only the words count, not the spacing");

        var chat = Tokenizer.Chat([("system", "be brief"), ("user", "hi")]);
        chat.Should().HaveCount(1 + 2 + 1 + 1 + 1);
        chat[0].Should().Be(Tokenizer.RoleMarker("system"));
        chat[^1].Should().Be(Tokenizer.RoleMarker("assistant"), "the generation prompt ends every chat");
    }
}
