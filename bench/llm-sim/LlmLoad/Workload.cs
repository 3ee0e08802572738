using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Eas.Node.LlmLoad;

/// <summary>Synthetic text: words drawn from a fixed 4096-word vocabulary (one word = one llm-sim token).</summary>
public static class Words
{
    private static readonly string[] _syllables =
    [
        "ba", "ce", "di", "fo", "gu", "ha", "je", "ki", "lo", "mu", "na", "pe", "qui", "ro", "su", "ta",
    ];

    /// <summary>4096 distinct words of three syllables.</summary>
    public static IReadOnlyList<string> Vocabulary { get; } = Build();

    /// <summary><paramref name="count"/> random words separated by single spaces.</summary>
    public static string Text(Random rng, int count)
    {
        var sb = new StringBuilder(count * 8);
        for (var i = 0; i < count; i++)
        {
            if (i > 0)
            {
                sb.Append(' ');
            }

            sb.Append(Vocabulary[rng.Next(Vocabulary.Count)]);
        }

        return sb.ToString();
    }

    private static string[] Build()
    {
        var words = new List<string>(4096);
        foreach (var a in _syllables)
        {
            foreach (var b in _syllables)
            {
                foreach (var c in _syllables)
                {
                    words.Add(a + b + c);
                }
            }
        }

        return [.. words];
    }
}

/// <summary>One request to send.</summary>
/// <param name="Path">/v1/completions or /v1/chat/completions.</param>
/// <param name="Body">JSON body.</param>
/// <param name="AffinityKey">The prefix index (or session number) for --client-lb affinity.</param>
/// <param name="SessionId">Chat session id (multi-turn), else null.</param>
public sealed record RequestSpec(string Path, byte[] Body, int AffinityKey, string? SessionId);

/// <summary>Builds OpenAI request bodies.</summary>
public static class RequestBodies
{
    public const string CompletionsPath = "/v1/completions";
    public const string ChatPath = "/v1/chat/completions";

    public static byte[] Completion(string model, string prompt, int maxTokens, bool stream) =>
        Build(model, maxTokens, stream, w => w.WriteString("prompt", prompt));

    public static byte[] Chat(string model, IReadOnlyList<(string Role, string Content)> messages, int maxTokens, bool stream) =>
        Build(model, maxTokens, stream, w =>
        {
            w.WriteStartArray("messages");
            foreach (var (role, content) in messages)
            {
                w.WriteStartObject();
                w.WriteString("role", role);
                w.WriteString("content", content);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        });

    private static byte[] Build(string model, int maxTokens, bool stream, Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(8192);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model", model);
            body(w);
            w.WriteNumber("max_tokens", maxTokens);
            w.WriteBoolean("ignore_eos", true);
            w.WriteNumber("temperature", 0);
            w.WriteBoolean("stream", stream);
            if (stream)
            {
                w.WriteStartObject("stream_options");
                w.WriteBoolean("include_usage", true);
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}

/// <summary>
/// Single-shot prompts made of a shared system prefix and a unique suffix: shared-prefix (prefix uniform over P),
/// zipf (prefix k+1 chosen with weight 1/(k+1)^s), single-prefix (P = 1).
/// </summary>
public sealed class PrefixWorkload
{
    private readonly LoadOptions _o;
    private readonly string[] _prefixes;
    private readonly double[]? _cdf;

    public PrefixWorkload(LoadOptions options)
    {
        _o = options;
        _prefixes = MakePrefixes(options);
        if (options.Workload == "zipf")
        {
            _cdf = ZipfCdf(options.Prefixes, options.ZipfS);
        }
    }

    public IReadOnlyList<string> Prefixes => _prefixes;

    /// <summary>The distinct prefixes, the same for a given seed in every run.</summary>
    public static string[] MakePrefixes(LoadOptions o)
    {
        var prefixes = new string[o.Prefixes];
        for (var i = 0; i < prefixes.Length; i++)
        {
            prefixes[i] = Words.Text(new Random(HashCode.Combine(o.Seed, 7919, i)), o.PrefixTokens);
        }

        return prefixes;
    }

    /// <summary>Cumulative Zipf distribution over <paramref name="n"/> ranks with exponent <paramref name="s"/>.</summary>
    public static double[] ZipfCdf(int n, double s)
    {
        var cdf = new double[n];
        var sum = 0.0;
        for (var k = 0; k < n; k++)
        {
            sum += 1.0 / Math.Pow(k + 1, s);
            cdf[k] = sum;
        }

        for (var k = 0; k < n; k++)
        {
            cdf[k] /= sum;
        }

        return cdf;
    }

    public int PickPrefix(Random rng)
    {
        if (_cdf is null)
        {
            return rng.Next(_prefixes.Length);
        }

        var i = Array.BinarySearch(_cdf, rng.NextDouble());
        return Math.Min(i < 0 ? ~i : i, _cdf.Length - 1);
    }

    public RequestSpec Next(Random rng) => ForPrefix(PickPrefix(rng), rng, _o.OutputTokens, _o.Stream);

    /// <summary>A request on prefix <paramref name="p"/> with a fresh random suffix.</summary>
    public RequestSpec ForPrefix(int p, Random rng, int maxTokens, bool stream)
    {
        var suffix = Words.Text(rng, _o.SuffixTokens);
        if (_o.Chat || _o.MultiTurn)
        {
            var body = RequestBodies.Chat(_o.Model, [("system", _prefixes[p]), ("user", suffix)], maxTokens, stream);
            return new RequestSpec(RequestBodies.ChatPath, body, p, null);
        }

        var prompt = _prefixes[p].Length == 0 ? suffix : _prefixes[p] + " " + suffix;
        return new RequestSpec(RequestBodies.CompletionsPath, RequestBodies.Completion(_o.Model, prompt, maxTokens, stream), p, null);
    }
}

/// <summary>
/// One multi-turn chat: a system prefix, then per turn a new user message; each request repeats the whole
/// conversation so far, including the assistant's earlier replies, so turn N+1's prompt extends turn N's.
/// </summary>
public sealed class ChatSession
{
    private readonly LoadOptions _o;
    private readonly List<(string Role, string Content)> _messages = [];
    private readonly Random _rng;

    public ChatSession(LoadOptions options, IReadOnlyList<string> prefixes, int number)
    {
        _o = options;
        Number = number;
        Id = $"s-{options.Seed}-{number}";
        _rng = new Random(HashCode.Combine(options.Seed, 104729, number));
        PrefixIndex = _rng.Next(prefixes.Count);
        _messages.Add(("system", prefixes[PrefixIndex]));
    }

    public int Number { get; }

    public string Id { get; }

    public int PrefixIndex { get; }

    public int Turn { get; private set; }

    public IReadOnlyList<(string Role, string Content)> Messages => _messages;

    /// <summary>Adds the next user message and returns the request for this turn.</summary>
    public RequestSpec NextTurn()
    {
        Turn++;
        _messages.Add(("user", Words.Text(_rng, _o.SuffixTokens)));
        return new RequestSpec(RequestBodies.ChatPath, RequestBodies.Chat(_o.Model, _messages, _o.OutputTokens, _o.Stream), Number, Id);
    }

    /// <summary>Records the assistant's reply (what the server generated) so the next turn repeats it.</summary>
    public void AddReply(string content) => _messages.Add(("assistant", content.Trim()));

    public double ThinkSeconds() => _o.ThinkMin + _rng.NextDouble() * (_o.ThinkMax - _o.ThinkMin);
}
