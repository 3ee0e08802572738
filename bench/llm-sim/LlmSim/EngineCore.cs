using System.Threading.Channels;

namespace Eas.Node.LlmSim;

/// <summary>The engine model's parameters (one replica). Defaults are the README's "small GPU engine" on a 2-core box.</summary>
public sealed record EngineConfig
{
    /// <summary>Most sequences in one batch (vLLM --max-num-seqs).</summary>
    public int MaxNumSeqs { get; init; } = 16;

    /// <summary>Token budget of one step: decode tokens plus prefill chunks (vLLM --max-num-batched-tokens).</summary>
    public int MaxNumBatchedTokens { get; init; } = 2048;

    /// <summary>Tokens per KV block (vLLM --block-size).</summary>
    public int BlockSize { get; init; } = 16;

    /// <summary>KV-cache capacity in tokens (rounded down to whole blocks).</summary>
    public int KvCacheTokens { get; init; } = 32768;

    /// <summary>Prefill cost per uncached prompt token, microseconds.</summary>
    public double PrefillUsPerToken { get; init; } = 400;

    /// <summary>Duration of a decode step with one sequence, milliseconds.</summary>
    public double DecodeMsPerStep { get; init; } = 25;

    /// <summary>Each further decoding sequence lengthens the step by this fraction of <see cref="DecodeMsPerStep"/>.</summary>
    public double DecodeBatchFactor { get; init; } = 0.02;

    /// <summary>A step never takes less than this, milliseconds (keeps an idle-ish engine from spinning).</summary>
    public double MinStepMs { get; init; } = 1;

    /// <summary>Name used as the prefix-hash seed and in metric labels.</summary>
    public string ModelName { get; init; } = "sim-llm";

    public int TotalBlocks => KvCacheTokens / BlockSize;

    /// <summary>Duration in seconds of a step that prefills <paramref name="prefillTokens"/> and decodes <paramref name="decodeSeqs"/> sequences.</summary>
    public double StepSeconds(int prefillTokens, int decodeSeqs)
    {
        var ms = prefillTokens * PrefillUsPerToken / 1000.0;
        if (decodeSeqs > 0)
        {
            ms += DecodeMsPerStep * (1 + DecodeBatchFactor * (decodeSeqs - 1));
        }

        return Math.Max(ms, MinStepMs) / 1000.0;
    }
}

/// <summary>One generated token, as delivered to the request's reader.</summary>
/// <param name="Index">0 for the first output token.</param>
/// <param name="WordIndex">Index into <see cref="OutputVocabulary.Words"/>.</param>
/// <param name="Last">True on the request's final token.</param>
public readonly record struct TokenEvent(int Index, int WordIndex, bool Last)
{
    public string Text => OutputVocabulary.Words[WordIndex];
}

public enum SequenceState
{
    Waiting,
    Running,
    Finished,
    Aborted,
}

/// <summary>One request inside the engine.</summary>
public sealed class Sequence
{
    internal Sequence(long id, List<ulong> prompt, int maxTokens, double arrival, ulong nonce)
    {
        Id = id;
        Tokens = prompt;
        PromptLength = prompt.Count;
        MaxTokens = maxTokens;
        Arrival = arrival;
        Nonce = nonce;
    }

    public long Id { get; }

    public int PromptLength { get; }

    public int MaxTokens { get; }

    /// <summary>Engine time (seconds) the request arrived.</summary>
    public double Arrival { get; }

    public SequenceState State { get; internal set; } = SequenceState.Waiting;

    /// <summary>Prompt tokens found in the prefix cache when the request was first scheduled.</summary>
    public int CachedPromptTokens { get; internal set; }

    public int Generated { get; internal set; }

    /// <summary>Times this sequence lost its KV blocks and was put back in the queue.</summary>
    public int Preemptions { get; internal set; }

    public double? FirstScheduled { get; internal set; }

    public double? FirstTokenTime { get; internal set; }

    /// <summary>The tokens the request delivers, in order; completes after the last one.</summary>
    public ChannelReader<TokenEvent> Events => EventChannel.Reader;

    internal Channel<TokenEvent> EventChannel { get; } =
        Channel.CreateUnbounded<TokenEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    internal ulong Nonce { get; }

    /// <summary>Prompt then generated tokens.</summary>
    internal List<ulong> Tokens { get; }

    /// <summary>Prefix hashes of the full blocks of <see cref="Tokens"/> computed so far.</summary>
    internal List<ulong> BlockHashes { get; } = [];

    internal List<KvBlock> Blocks { get; } = [];

    /// <summary>Tokens whose KV is computed.</summary>
    internal int NumComputed { get; set; }

    /// <summary>Leading blocks already registered in the prefix cache.</summary>
    internal int CommittedBlocks { get; set; }

    internal double LastTokenTime { get; set; }
}

/// <summary>One scheduled step: which sequences compute how many tokens, and how long it takes.</summary>
public sealed class StepPlan
{
    internal List<(Sequence Seq, int Tokens)> Work { get; } = [];

    public int PrefillTokens { get; internal set; }

    public int DecodeSeqs { get; internal set; }

    /// <summary>Modelled duration in seconds.</summary>
    public double Duration { get; internal set; }

    public int Count => Work.Count;
}

/// <summary>
/// The engine model of one replica, a deterministic state machine in engine time (seconds), vLLM-V1-like:
/// each step first gives every running sequence its next tokens (one decode token, or the next chunk of its prefill)
/// in admission order within the step's token budget, growing its KV blocks and preempting the latest admitted
/// sequences (recompute) when the pool runs out; then, if nothing was preempted, admits waiting requests in FIFO
/// order while the batch has room, the budget lasts and their blocks fit, skipping the prefill of every full block
/// already in the prefix cache. A step that completes a sequence's pending tokens emits its next output token.
/// Not thread-safe: <see cref="EngineRunner"/> serialises calls and supplies wall time.
/// </summary>
public sealed class EngineCore
{
    private readonly List<Sequence> _running = [];
    private readonly LinkedList<Sequence> _waiting = new();
    private readonly ulong _hashSeed;
    private readonly ulong _nonceSeed;
    private long _nextId;

    public EngineCore(EngineConfig config, ulong nonceSeed = 0)
    {
        Config = config;
        Kv = new KvBlockManager(config.TotalBlocks, config.BlockSize);
        _hashSeed = Tokenizer.WordId(config.ModelName);
        _nonceSeed = nonceSeed;
    }

    public EngineConfig Config { get; }

    public KvBlockManager Kv { get; }

    public EngineStats Stats { get; } = new();

    public int RunningCount => _running.Count;

    public int WaitingCount => _waiting.Count;

    /// <summary>Queues a request. The caller has checked that prompt + output fits the KV cache.</summary>
    public Sequence Submit(List<ulong> prompt, int maxTokens, double now)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(prompt.Count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 1);
        var id = ++_nextId;
        var seq = new Sequence(id, prompt, maxTokens, now, Tokenizer.Mix(_nonceSeed ^ (ulong)id));
        _waiting.AddLast(seq);
        Stats.Arrived++;
        return seq;
    }

    /// <summary>Plans the next step at engine time <paramref name="now"/>; null when there is nothing to do.</summary>
    public StepPlan? Plan(double now)
    {
        var plan = new StepPlan();
        var budget = Config.MaxNumBatchedTokens;
        var preempted = false;

        for (var i = 0; i < _running.Count && budget > 0; i++)
        {
            var seq = _running[i];
            var n = Math.Min(seq.Tokens.Count - seq.NumComputed, budget);
            var selfPreempted = false;
            while (!Kv.TryGrow(seq.Blocks, seq.NumComputed + n))
            {
                var victim = _running[^1];
                Preempt(victim);
                preempted = true;
                if (ReferenceEquals(victim, seq))
                {
                    selfPreempted = true;
                    break;
                }
            }

            if (selfPreempted)
            {
                break;
            }

            Add(plan, seq, n);
            budget -= n;
        }

        // vLLM admits nothing in a step that had to preempt; but never leave the engine idle with work queued.
        if (!preempted || plan.Count == 0)
        {
            Admit(plan, ref budget, now);
        }

        if (plan.Count == 0)
        {
            return null;
        }

        plan.Duration = Config.StepSeconds(plan.PrefillTokens, plan.DecodeSeqs);
        return plan;
    }

    /// <summary>Completes <paramref name="plan"/> at engine time <paramref name="now"/>: KV computed, blocks cached, tokens emitted.</summary>
    public void Apply(StepPlan plan, double now)
    {
        Stats.Steps++;
        Stats.PrefillTokensComputed += plan.PrefillTokens;
        foreach (var (seq, n) in plan.Work)
        {
            if (seq.State != SequenceState.Running)
            {
                continue; // aborted during the step
            }

            seq.NumComputed += n;
            CommitFullBlocks(seq);
            if (seq.NumComputed == seq.Tokens.Count)
            {
                Emit(seq, now);
            }
        }
    }

    /// <summary>Drops a request (client gone); frees its blocks. No-op once finished.</summary>
    public void Abort(Sequence seq)
    {
        switch (seq.State)
        {
            case SequenceState.Waiting:
                _waiting.Remove(seq);
                break;
            case SequenceState.Running:
                Kv.Free(seq.Blocks);
                _running.Remove(seq);
                break;
            default:
                return;
        }

        seq.State = SequenceState.Aborted;
        Stats.Aborted++;
        seq.EventChannel.Writer.TryComplete();
    }

    private void Admit(StepPlan plan, ref int budget, double now)
    {
        while (_waiting.First is { } node && _running.Count < Config.MaxNumSeqs && budget > 0)
        {
            var seq = node.Value;
            EnsureBlockHashes(seq);

            // At least one token is always computed (vLLM recomputes the last one when the whole prompt hits).
            var hits = Kv.Match(seq.BlockHashes, (seq.Tokens.Count - 1) / Config.BlockSize);
            var hitTokens = hits.Count * Config.BlockSize;
            var n = Math.Min(seq.Tokens.Count - hitTokens, budget);
            if (!Kv.TryAllocate(seq.Blocks, hits, hitTokens + n))
            {
                break; // FIFO: the head waits for blocks, nobody overtakes it
            }

            _waiting.RemoveFirst();
            _running.Add(seq);
            seq.State = SequenceState.Running;
            seq.NumComputed = hitTokens;
            seq.CommittedBlocks = hits.Count;
            Stats.PrefixQueries += seq.Tokens.Count;
            Stats.PrefixHits += hitTokens;
            if (seq.FirstScheduled is null)
            {
                seq.FirstScheduled = now;
                seq.CachedPromptTokens = hitTokens;
                Stats.QueueTime.Observe(Math.Max(0, now - seq.Arrival));
            }

            Add(plan, seq, n);
            budget -= n;
        }
    }

    private static void Add(StepPlan plan, Sequence seq, int n)
    {
        plan.Work.Add((seq, n));
        if (n == 1 && seq.Generated > 0 && seq.NumComputed == seq.Tokens.Count - 1)
        {
            plan.DecodeSeqs++;
        }
        else
        {
            plan.PrefillTokens += n;
        }
    }

    private void Preempt(Sequence seq)
    {
        Kv.Free(seq.Blocks);
        _running.Remove(seq);
        seq.NumComputed = 0;
        seq.CommittedBlocks = 0;
        seq.State = SequenceState.Waiting;
        seq.Preemptions++;
        _waiting.AddFirst(seq);
        Stats.Preemptions++;
    }

    private void EnsureBlockHashes(Sequence seq)
    {
        var bs = Config.BlockSize;
        while ((seq.BlockHashes.Count + 1) * bs <= seq.Tokens.Count)
        {
            var parent = seq.BlockHashes.Count == 0 ? _hashSeed : seq.BlockHashes[^1];
            seq.BlockHashes.Add(Tokenizer.BlockHash(parent, seq.Tokens, seq.BlockHashes.Count * bs, bs));
        }
    }

    private void CommitFullBlocks(Sequence seq)
    {
        var full = seq.NumComputed / Config.BlockSize;
        if (full <= seq.CommittedBlocks)
        {
            return;
        }

        EnsureBlockHashes(seq);
        for (var b = seq.CommittedBlocks; b < full; b++)
        {
            Kv.Register(seq.Blocks[b], seq.BlockHashes[b]);
        }

        seq.CommittedBlocks = full;
    }

    private void Emit(Sequence seq, double now)
    {
        var word = OutputVocabulary.Pick(seq.Nonce, seq.Generated);
        seq.Tokens.Add(OutputVocabulary.Ids[word]);
        seq.Generated++;
        Stats.GenerationTokens++;
        if (seq.Generated == 1)
        {
            seq.FirstTokenTime = now;
            Stats.PromptTokens += seq.PromptLength;
            Stats.TimeToFirstToken.Observe(Math.Max(0, now - seq.Arrival));
        }
        else
        {
            Stats.TimePerOutputToken.Observe(Math.Max(0, now - seq.LastTokenTime));
        }

        seq.LastTokenTime = now;
        var last = seq.Generated >= seq.MaxTokens;
        seq.EventChannel.Writer.TryWrite(new TokenEvent(seq.Generated - 1, word, last));
        if (!last)
        {
            return;
        }

        Kv.Free(seq.Blocks);
        _running.Remove(seq);
        seq.State = SequenceState.Finished;
        Stats.Finished++;
        Stats.EndToEnd.Observe(Math.Max(0, now - seq.Arrival));
        seq.EventChannel.Writer.TryComplete();
    }
}
