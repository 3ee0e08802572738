namespace Eas.Node.LlmSim;

/// <summary>
/// The simulator's tokenizer: one token per whitespace-separated word, its id a 64-bit hash of the word.
/// Deterministic, needs no vocabulary and costs one pass over the text. Chat messages are rendered as
/// <c>&lt;|role|&gt;</c> followed by the content's words, and a final <c>&lt;|assistant|&gt;</c> starts the answer,
/// so turn N+1 of a conversation (which repeats turn N and its answer) extends turn N's token sequence.
/// </summary>
public static class Tokenizer
{
    private const ulong FnvOffset = 14695981039346656037UL;
    private const ulong FnvPrime = 1099511628211UL;

    /// <summary>The token id of one word (FNV-1a over its UTF-16 code units, then a finalizer).</summary>
    public static ulong WordId(ReadOnlySpan<char> word)
    {
        var h = FnvOffset;
        foreach (var c in word)
        {
            h ^= c;
            h *= FnvPrime;
        }

        return Mix(h);
    }

    /// <summary>Appends the token ids of <paramref name="text"/> (whitespace-separated words) to <paramref name="into"/>.</summary>
    public static void AppendWords(ReadOnlySpan<char> text, List<ulong> into)
    {
        var i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            var start = i;
            while (i < text.Length && !char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            if (i > start)
            {
                into.Add(WordId(text[start..i]));
            }
        }
    }

    /// <summary>The token ids of a completions prompt.</summary>
    public static List<ulong> Prompt(string prompt)
    {
        var tokens = new List<ulong>(prompt.Length / 5 + 1);
        AppendWords(prompt, tokens);
        return tokens;
    }

    /// <summary>The marker token that opens a message of <paramref name="role"/>.</summary>
    public static ulong RoleMarker(string role) => WordId("<|" + role + "|>");

    /// <summary>The token ids of a chat conversation, ending with the assistant marker (the generation prompt).</summary>
    public static List<ulong> Chat(IEnumerable<(string Role, string Content)> messages)
    {
        var tokens = new List<ulong>();
        foreach (var (role, content) in messages)
        {
            tokens.Add(RoleMarker(role));
            AppendWords(content, tokens);
        }

        tokens.Add(RoleMarker("assistant"));
        return tokens;
    }

    /// <summary>A 64-bit finalizer (splitmix64).</summary>
    public static ulong Mix(ulong x)
    {
        x ^= x >> 30;
        x *= 0xbf58476d1ce4e5b9UL;
        x ^= x >> 27;
        x *= 0x94d049bb133111ebUL;
        x ^= x >> 31;
        return x;
    }

    /// <summary>
    /// The hash of one KV block: its parent block's hash chained with the block's token ids, as vLLM's prefix caching
    /// does, so equal hashes mean equal whole prefixes, not just equal blocks.
    /// </summary>
    public static ulong BlockHash(ulong parent, IReadOnlyList<ulong> tokens, int start, int count)
    {
        var h = Mix(parent ^ 0x9e3779b97f4a7c15UL);
        for (var i = start; i < start + count; i++)
        {
            h = Mix(h ^ tokens[i]) + 0x9e3779b97f4a7c15UL;
        }

        return h;
    }
}

/// <summary>The words the simulator "generates": a fixed vocabulary, picked by a per-request seeded stream.</summary>
public static class OutputVocabulary
{
    private static readonly string[] _syllables =
    [
        "ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "ve", "zu", "ba", "de", "fi", "go", "hu", "ja",
    ];

    /// <summary>256 distinct words ("kalo", "kami", ...).</summary>
    public static IReadOnlyList<string> Words { get; } = BuildWords();

    /// <summary>Token ids of <see cref="Words"/>, same order.</summary>
    public static IReadOnlyList<ulong> Ids { get; } = Words.Select(w => Tokenizer.WordId(w)).ToArray();

    /// <summary>The index into <see cref="Words"/> of output token <paramref name="index"/> of a request with <paramref name="nonce"/>.</summary>
    public static int Pick(ulong nonce, int index) => (int)(Tokenizer.Mix(nonce + (ulong)index * 0x9e3779b97f4a7c15UL) % (ulong)Words.Count);

    private static string[] BuildWords()
    {
        var words = new string[_syllables.Length * _syllables.Length];
        var k = 0;
        foreach (var a in _syllables)
        {
            foreach (var b in _syllables)
            {
                words[k++] = a + b;
            }
        }

        return words;
    }
}
