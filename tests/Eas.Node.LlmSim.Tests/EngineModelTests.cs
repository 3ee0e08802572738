namespace Eas.Node.LlmSim.Tests;

/// <summary>The engine model in virtual time: steps are planned and applied by hand, so every duration is exact.</summary>
public class EngineModelTests
{
    private static readonly EngineConfig _config = new()
    {
        MaxNumSeqs = 4,
        MaxNumBatchedTokens = 256,
        BlockSize = 16,
        KvCacheTokens = 16 * 64,
        PrefillUsPerToken = 1000, // 1 ms per uncached token: durations are easy to read
        DecodeMsPerStep = 10,
        DecodeBatchFactor = 0.1,
        MinStepMs = 1,
    };

    private static List<ulong> Prompt(int words, int salt = 0) =>
        Enumerable.Range(0, words).Select(i => Tokenizer.WordId($"p{salt}-{i}")).ToList();

    /// <summary>Runs steps until nothing is left; returns the steps' (prefill tokens, decode seqs, duration).</summary>
    private static List<(int Prefill, int Decode, double Duration)> RunToIdle(EngineCore core, ref double now, int maxSteps = 10_000)
    {
        var steps = new List<(int, int, double)>();
        while (core.Plan(now) is { } plan)
        {
            now += plan.Duration;
            core.Apply(plan, now);
            steps.Add((plan.PrefillTokens, plan.DecodeSeqs, plan.Duration));
            steps.Count.Should().BeLessThan(maxSteps, "the engine must drain");
        }

        return steps;
    }

    private static List<TokenEvent> Drain(Sequence seq)
    {
        var events = new List<TokenEvent>();
        while (seq.Events.TryRead(out var e))
        {
            events.Add(e);
        }

        return events;
    }

    [Fact]
    public void AColdRequest_PrefillsEveryPromptToken_ThenDecodesOneTokenPerStep()
    {
        var core = new EngineCore(_config);
        var now = 0.0;
        var seq = core.Submit(Prompt(100), maxTokens: 5, now);

        var steps = RunToIdle(core, ref now);

        steps.Should().HaveCount(5);
        steps[0].Should().Be((100, 0, 0.100), "100 uncached tokens at 1 ms; the prefill step yields the first token");
        steps.Skip(1).Should().OnlyContain(s => s.Prefill == 0 && s.Decode == 1 && Math.Abs(s.Duration - 0.010) < 1e-12);
        seq.FirstTokenTime.Should().BeApproximately(0.100, 1e-9);
        now.Should().BeApproximately(0.140, 1e-9);

        var events = Drain(seq);
        events.Select(e => e.Index).Should().Equal(0, 1, 2, 3, 4);
        events.Select(e => e.Last).Should().Equal(false, false, false, false, true);
        seq.State.Should().Be(SequenceState.Finished);
        core.Kv.UsedBlocks.Should().Be(0, "a finished request holds no blocks");
        core.Stats.PromptTokens.Should().Be(100);
        core.Stats.GenerationTokens.Should().Be(5);
        core.Stats.TimeToFirstToken.Count.Should().Be(1);
    }

    [Fact]
    public void ARepeatedPrefix_SkipsThePrefillOfItsCachedFullBlocks()
    {
        var core = new EngineCore(_config);
        var now = 0.0;
        var shared = Prompt(96);
        core.Submit([.. shared, .. Prompt(20, salt: 1)], 1, now);
        RunToIdle(core, ref now);

        var start = now;
        var second = core.Submit([.. shared, .. Prompt(20, salt: 2)], 1, now);
        var steps = RunToIdle(core, ref now);

        second.CachedPromptTokens.Should().Be(96, "six full 16-token blocks of the shared prefix");
        steps.Single().Prefill.Should().Be(20);
        (now - start).Should().BeApproximately(0.020, 1e-9);
        core.Stats.PrefixQueries.Should().Be(116 + 116);
        core.Stats.PrefixHits.Should().Be(96);
        core.Stats.PrefillTokensComputed.Should().Be(116 + 20);
    }

    [Fact]
    public void AFullyCachedPrompt_StillComputesItsLastToken()
    {
        var core = new EngineCore(_config);
        var now = 0.0;
        var prompt = Prompt(64);
        core.Submit([.. prompt], 1, now);
        RunToIdle(core, ref now);

        var again = core.Submit([.. prompt], 1, now);
        var steps = RunToIdle(core, ref now);

        again.CachedPromptTokens.Should().Be(48, "hits stop one block short so that at least one token is computed");
        steps.Single().Prefill.Should().Be(16);
    }

    [Fact]
    public void ALongPrompt_IsPrefilledInChunksOfTheStepBudget()
    {
        var core = new EngineCore(_config);
        var now = 0.0;
        var seq = core.Submit(Prompt(600), 2, now);

        var steps = RunToIdle(core, ref now);

        steps.Select(s => s.Prefill).Should().Equal(256, 256, 88, 0);
        seq.FirstTokenTime.Should().BeApproximately(0.600, 1e-9, "the token comes with the last chunk");
    }

    [Fact]
    public void DecodeSteps_GrowMildlyWithTheBatch()
    {
        _config.StepSeconds(0, 1).Should().BeApproximately(0.010, 1e-12);
        _config.StepSeconds(0, 4).Should().BeApproximately(0.013, 1e-12, "10 ms x (1 + 0.1 x 3)");
        _config.StepSeconds(50, 4).Should().BeApproximately(0.063, 1e-12, "prefill adds to the decode work of the same step");
        _config.StepSeconds(0, 0).Should().Be(0.001, "never below the floor");
    }

    [Fact]
    public void RequestsBeyondTheBatchLimit_WaitUntilASlotFrees()
    {
        var core = new EngineCore(_config with { MaxNumSeqs = 2 });
        var now = 0.0;
        var a = core.Submit(Prompt(10, 1), 3, now);
        var b = core.Submit(Prompt(10, 2), 3, now);
        var c = core.Submit(Prompt(10, 3), 3, now);

        var plan = core.Plan(now)!;
        plan.Count.Should().Be(2);
        core.RunningCount.Should().Be(2);
        core.WaitingCount.Should().Be(1);
        c.State.Should().Be(SequenceState.Waiting);
        now += plan.Duration;
        core.Apply(plan, now);

        RunToIdle(core, ref now);
        c.FirstScheduled.Should().BeGreaterThanOrEqualTo(Math.Min(a.FirstTokenTime!.Value, b.FirstTokenTime!.Value) + 0.020 - 1e-9,
            "c starts only after a or b produced all three tokens");
        new[] { a, b, c }.Should().OnlyContain(s => s.State == SequenceState.Finished && s.Generated == 3);
    }

    [Fact]
    public void RequestsWait_WhileTheKvCacheCannotHoldTheirPrompt_AndUsageReportsHeldBlocks()
    {
        var core = new EngineCore(_config with { KvCacheTokens = 16 * 10 });
        var now = 0.0;
        var a = core.Submit(Prompt(100, 1), 20, now); // 7 blocks
        var b = core.Submit(Prompt(100, 2), 20, now); // 7 more do not fit beside a

        var plan = core.Plan(now)!;
        plan.Count.Should().Be(1);
        core.Kv.Usage.Should().BeApproximately(0.7, 1e-9);
        b.State.Should().Be(SequenceState.Waiting);

        RunToIdle(core, ref now);
        a.Generated.Should().Be(20);
        b.Generated.Should().Be(20);
        b.FirstScheduled.Should().BeGreaterThan(a.FirstTokenTime!.Value);
    }

    [Fact]
    public void WhenDecodesOutgrowThePool_TheLatestRequestIsPreempted_AndStillCompletesEveryToken()
    {
        var core = new EngineCore(_config with { KvCacheTokens = 16 * 6 });
        var now = 0.0;
        var a = core.Submit(Prompt(40, 1), 30, now); // 40 + 30 tokens = 5 blocks at the end
        var b = core.Submit(Prompt(40, 2), 30, now);

        RunToIdle(core, ref now);

        core.Stats.Preemptions.Should().BeGreaterThan(0);
        b.Preemptions.Should().BeGreaterThan(0, "the later admitted request is the victim");
        a.Preemptions.Should().Be(0);
        Drain(a).Should().HaveCount(30);
        Drain(b).Select(e => e.Index).Should().Equal(Enumerable.Range(0, 30), "a preempted stream pauses but loses nothing");
        core.Kv.UsedBlocks.Should().Be(0);
    }

    [Fact]
    public void Abort_FreesTheRequestsBlocks_AndEndsItsStream()
    {
        var core = new EngineCore(_config);
        var now = 0.0;
        var seq = core.Submit(Prompt(50), 100, now);
        var plan = core.Plan(now)!;
        now += plan.Duration;
        core.Apply(plan, now);
        core.Kv.UsedBlocks.Should().BeGreaterThan(0);

        core.Abort(seq);

        seq.State.Should().Be(SequenceState.Aborted);
        core.Kv.UsedBlocks.Should().Be(0);
        core.RunningCount.Should().Be(0);
        core.Plan(now).Should().BeNull();
        Drain(seq).Should().HaveCount(1, "the token of the first step was delivered");
        seq.Events.Completion.IsCompleted.Should().BeTrue("the stream ends");
        core.Stats.Aborted.Should().Be(1);
    }

    [Fact]
    public void TheNextTurnOfAChat_HitsTheBlocksOfThePreviousTurnIncludingItsAnswer()
    {
        var core = new EngineCore(_config);
        var now = 0.0;
        var system = string.Join(' ', Enumerable.Range(0, 60).Select(i => $"s{i}"));
        var turn1 = Tokenizer.Chat([("system", system), ("user", "hello there")]);
        var turn1Length = turn1.Count;
        var first = core.Submit(turn1, 40, now); // the engine owns the list from here on
        RunToIdle(core, ref now);
        var answer = string.Join(' ', Drain(first).Select(e => e.Text));

        var turn2 = Tokenizer.Chat([("system", system), ("user", "hello there"), ("assistant", answer), ("user", "and then")]);
        var second = core.Submit(turn2, 1, now);
        RunToIdle(core, ref now);

        // Turn 1 ended with 65 + 40 tokens, the KV of all but the last token computed: 104 tokens = 6 full blocks.
        turn1Length.Should().Be(65);
        second.CachedPromptTokens.Should().Be((turn1Length + 40 - 1) / 16 * 16,
            "every full block of turn 1's prompt and answer whose KV was computed is cached");
        second.CachedPromptTokens.Should().BeGreaterThan(turn1Length, "the answer's blocks count too");
    }

    [Fact]
    public void TimeToFirstToken_IncludesTheQueueWait()
    {
        var core = new EngineCore(_config with { MaxNumSeqs = 1 });
        var now = 0.0;
        core.Submit(Prompt(30, 1), 2, now);
        var second = core.Submit(Prompt(30, 2), 2, now);

        RunToIdle(core, ref now);

        // first: 30 ms prefill + 10 ms decode; second: then 30 ms prefill.
        second.FirstTokenTime.Should().BeApproximately(0.070, 1e-9);
        core.Stats.TimeToFirstToken.Sum.Should().BeApproximately(0.030 + 0.070, 1e-9);
    }
}
