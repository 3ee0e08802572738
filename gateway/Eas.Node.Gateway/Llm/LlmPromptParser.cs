using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;

namespace Eas.Node.Gateway.Llm;

/// <summary>The shape of an OpenAI-style request body, as far as routing cares.</summary>
public enum LlmRequestKind
{
    /// <summary>Not an OpenAI completions body (not JSON, or neither <c>prompt</c> nor <c>messages</c>).</summary>
    Unknown,

    /// <summary><c>/v1/completions</c>: a <c>prompt</c> (string, strings, or token ids).</summary>
    Completion,

    /// <summary><c>/v1/chat/completions</c>: <c>messages</c>.</summary>
    Chat,
}

/// <summary>What <see cref="LlmPromptParser.Parse"/> found in a request body.</summary>
/// <param name="Kind">Completion, chat, or unknown (then <paramref name="BlockCount"/> is 0).</param>
/// <param name="BlockCount">Full blocks of canonical prompt text hashed into the caller's span (at most its length).</param>
/// <param name="PromptBytes">Bytes of canonical prompt text (past the hashed part, escaped JSON length is counted).</param>
/// <param name="Stream">The body asked for <c>"stream": true</c>.</param>
/// <param name="MaxTokens"><c>max_tokens</c> or <c>max_completion_tokens</c>; -1 when absent.</param>
public readonly record struct LlmPromptInfo(LlmRequestKind Kind, int BlockCount, long PromptBytes, bool Stream, int MaxTokens);

/// <summary>
/// Reads the prompt of an OpenAI <c>/v1/completions</c> or <c>/v1/chat/completions</c> body with
/// <see cref="Utf8JsonReader"/> and hashes its canonical text in fixed-size blocks, each hash chained to the one before
/// (like vLLM's block hashes), so equal hashes at position i mean equal text up to the end of block i. Canonical text:
/// a completion's prompt as sent (array elements joined by '\n', token ids as "id,"); a chat's messages as
/// <c>role\n[name\n]content\n[tool_calls\n][tool_call_id\n]</c>, where content parts contribute their <c>text</c>
/// (other parts their raw JSON). The model name, <c>cache_salt</c> and <c>tools</c> seed every hash, so different
/// models never share blocks; property order does not matter. Allocates nothing.
/// </summary>
public static class LlmPromptParser
{
    private const int MaxDepth = 64;

    /// <summary>
    /// Parses <paramref name="body"/> and writes up to <c>blockHashes.Length</c> chained block hashes of
    /// <paramref name="blockBytes"/> bytes each. Never throws on bad input: a body that is not a JSON object gives
    /// <see cref="LlmRequestKind.Unknown"/> with no blocks.
    /// </summary>
    public static LlmPromptInfo Parse(ReadOnlySpan<byte> body, int blockBytes, Span<ulong> blockHashes)
    {
        if (blockBytes is < 1 or > LlmRoutingOptions.MaxBlockBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(blockBytes), blockBytes, $"the block size must be from 1 to {LlmRoutingOptions.MaxBlockBytes} bytes");
        }

        // A pooled stage (not stackalloc) keeps the hasher's span as long-lived as the reader's, which the compiler
        // requires when both are passed by ref.
        var stage = ArrayPool<byte>.Shared.Rent(blockBytes);
        var hasher = new BlockHasher(stage.AsSpan(0, blockBytes), blockHashes);
        var kind = LlmRequestKind.Unknown;
        var stream = false;
        var maxTokens = -1;
        ulong seed = 0x243F6A8885A308D3;
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = MaxDepth });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return default;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("messages"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.StartArray)
                    {
                        kind = LlmRequestKind.Chat;
                        ReadMessages(ref reader, body, ref hasher);
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("prompt"u8))
                {
                    reader.Read();
                    if (kind == LlmRequestKind.Unknown)
                    {
                        kind = LlmRequestKind.Completion;
                    }

                    var first = true;
                    ReadPromptValue(ref reader, ref hasher, ref first, 0);
                }
                else if (reader.ValueTextEquals("stream"u8))
                {
                    reader.Read();
                    stream = reader.TokenType == JsonTokenType.True;
                }
                else if (reader.ValueTextEquals("max_tokens"u8) || reader.ValueTextEquals("max_completion_tokens"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var value) && value >= 0)
                    {
                        maxTokens = value;
                    }
                }
                else if (reader.ValueTextEquals("model"u8) || reader.ValueTextEquals("cache_salt"u8))
                {
                    var isModel = reader.ValueTextEquals("model"u8);
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        seed = Combine(seed, XxHash3.HashToUInt64(reader.ValueSpan, isModel ? 1 : 2));
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("tools"u8))
                {
                    reader.Read();
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    seed = Combine(seed, XxHash3.HashToUInt64(body[start..(int)reader.BytesConsumed], 3));
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return default;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(stage);
        }

        if (kind == LlmRequestKind.Unknown)
        {
            return new LlmPromptInfo(kind, 0, 0, stream, maxTokens);
        }

        var count = hasher.Count;
        for (var i = 0; i < count; i++)
        {
            blockHashes[i] = Mix(blockHashes[i] ^ seed);
        }

        return new LlmPromptInfo(kind, count, hasher.TotalBytes, stream, maxTokens);
    }

    private static void ReadMessages(ref Utf8JsonReader reader, ReadOnlySpan<byte> body, ref BlockHasher hasher)
    {
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                continue;
            }

            // A message's properties may come in any order; the canonical text puts them in a fixed one, so the
            // positions are noted first and the text is appended once the object is read.
            ReadOnlySpan<byte> role = default;
            var roleEscaped = false;
            ReadOnlySpan<byte> name = default;
            var nameEscaped = false;
            ReadOnlySpan<byte> toolCallId = default;
            var toolCallIdEscaped = false;
            ReadOnlySpan<byte> toolCalls = default;
            var content = default(Utf8JsonReader);
            var hasContent = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("role"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        role = reader.ValueSpan;
                        roleEscaped = reader.ValueIsEscaped;
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("content"u8))
                {
                    reader.Read();
                    content = reader;
                    hasContent = true;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("name"u8) || reader.ValueTextEquals("tool_call_id"u8))
                {
                    var isName = reader.ValueTextEquals("name"u8);
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String)
                    {
                        if (isName)
                        {
                            name = reader.ValueSpan;
                            nameEscaped = reader.ValueIsEscaped;
                        }
                        else
                        {
                            toolCallId = reader.ValueSpan;
                            toolCallIdEscaped = reader.ValueIsEscaped;
                        }
                    }
                    else
                    {
                        reader.Skip();
                    }
                }
                else if (reader.ValueTextEquals("tool_calls"u8))
                {
                    reader.Read();
                    var start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    toolCalls = body[start..(int)reader.BytesConsumed];
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            AppendString(ref hasher, role, roleEscaped);
            hasher.Append((byte)'\n');
            if (!name.IsEmpty)
            {
                AppendString(ref hasher, name, nameEscaped);
                hasher.Append((byte)'\n');
            }

            if (hasContent)
            {
                ReadContent(ref content, body, ref hasher);
            }

            hasher.Append((byte)'\n');
            if (!toolCalls.IsEmpty)
            {
                hasher.Append(toolCalls);
                hasher.Append((byte)'\n');
            }

            if (!toolCallId.IsEmpty)
            {
                AppendString(ref hasher, toolCallId, toolCallIdEscaped);
                hasher.Append((byte)'\n');
            }
        }
    }

    // content: a string, null, or an array of parts ({"type":"text","text":...} or others such as image_url).
    private static void ReadContent(ref Utf8JsonReader reader, ReadOnlySpan<byte> body, ref BlockHasher hasher)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            AppendString(ref hasher, reader.ValueSpan, reader.ValueIsEscaped);
            return;
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            return;
        }

        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType == JsonTokenType.String)
            {
                AppendString(ref hasher, reader.ValueSpan, reader.ValueIsEscaped);
                continue;
            }

            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                continue;
            }

            var start = (int)reader.TokenStartIndex;
            var hadText = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isText = reader.ValueTextEquals("text"u8);
                reader.Read();
                if (isText && reader.TokenType == JsonTokenType.String)
                {
                    AppendString(ref hasher, reader.ValueSpan, reader.ValueIsEscaped);
                    hadText = true;
                }
                else
                {
                    reader.Skip();
                }
            }

            if (!hadText)
            {
                // An image, audio or file part: its JSON stands for the tokens it becomes.
                hasher.Append(body[start..(int)reader.BytesConsumed]);
            }
        }
    }

    // prompt: a string, an array of strings, an array of token ids, or an array of such arrays.
    private static void ReadPromptValue(ref Utf8JsonReader reader, ref BlockHasher hasher, ref bool first, int depth)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                if (!first)
                {
                    hasher.Append((byte)'\n');
                }

                first = false;
                AppendString(ref hasher, reader.ValueSpan, reader.ValueIsEscaped);
                break;
            case JsonTokenType.Number:
                first = false;
                hasher.Append(reader.ValueSpan);
                hasher.Append((byte)',');
                break;
            case JsonTokenType.StartArray when depth < 2:
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    ReadPromptValue(ref reader, ref hasher, ref first, depth + 1);
                }

                break;
            default:
                reader.Skip();
                break;
        }
    }

    /// <summary>Appends a JSON string value, unescaped, until the hasher is full (the rest is only counted).</summary>
    private static void AppendString(ref BlockHasher hasher, ReadOnlySpan<byte> raw, bool escaped)
    {
        if (!escaped)
        {
            hasher.Append(raw);
            return;
        }

        Span<byte> utf8 = stackalloc byte[4];
        while (!raw.IsEmpty)
        {
            if (hasher.IsFull)
            {
                hasher.CountOnly(raw.Length);
                return;
            }

            var slash = raw.IndexOf((byte)'\\');
            if (slash < 0)
            {
                hasher.Append(raw);
                return;
            }

            hasher.Append(raw[..slash]);
            raw = raw[slash..];
            if (raw.Length < 2)
            {
                return;
            }

            var consumed = 2;
            switch (raw[1])
            {
                case (byte)'n': hasher.Append((byte)'\n'); break;
                case (byte)'t': hasher.Append((byte)'\t'); break;
                case (byte)'r': hasher.Append((byte)'\r'); break;
                case (byte)'b': hasher.Append((byte)'\b'); break;
                case (byte)'f': hasher.Append((byte)'\f'); break;
                case (byte)'u':
                    if (raw.Length >= 6 && TryHex4(raw.Slice(2, 4), out var unit))
                    {
                        consumed = 6;
                        int scalar = unit;
                        if (char.IsHighSurrogate((char)unit) && raw.Length >= 12 && raw[6] == '\\' && raw[7] == 'u'
                            && TryHex4(raw.Slice(8, 4), out var low) && char.IsLowSurrogate((char)low))
                        {
                            scalar = char.ConvertToUtf32((char)unit, (char)low);
                            consumed = 12;
                        }

                        if (!Rune.TryCreate(scalar, out var rune))
                        {
                            rune = Rune.ReplacementChar;
                        }

                        hasher.Append(utf8[..rune.EncodeToUtf8(utf8)]);
                    }

                    break;
                default:
                    // \" \\ \/ stand for the character itself.
                    hasher.Append(raw[1]);
                    break;
            }

            raw = raw[consumed..];
        }
    }

    private static bool TryHex4(ReadOnlySpan<byte> hex, out int value)
    {
        value = 0;
        foreach (var b in hex)
        {
            var digit = b switch
            {
                >= (byte)'0' and <= (byte)'9' => b - '0',
                >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
                _ => -1,
            };
            if (digit < 0)
            {
                return false;
            }

            value = (value << 4) | digit;
        }

        return true;
    }

    private static ulong Combine(ulong seed, ulong value)
    {
        Span<byte> pair = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(pair, seed);
        BinaryPrimitives.WriteUInt64LittleEndian(pair[8..], value);
        return XxHash3.HashToUInt64(pair);
    }

    // MurmurHash3's 64-bit finalizer: a bijection, so distinct chained hashes stay distinct under one seed.
    private static ulong Mix(ulong h)
    {
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdUL;
        h ^= h >> 33;
        h *= 0xc4ceb33fe63bc6d1UL;
        h ^= h >> 33;
        return h;
    }

    /// <summary>Cuts a byte stream into blocks and writes each block's hash, chained to the previous one.</summary>
    private ref struct BlockHasher
    {
        private readonly Span<byte> _stage;
        private readonly Span<ulong> _output;
        private int _fill;
        private int _count;
        private ulong _previous;
        private long _total;

        public BlockHasher(Span<byte> stage, Span<ulong> output)
        {
            _stage = stage;
            _output = output;
        }

        public readonly int Count => _count;

        public readonly long TotalBytes => _total;

        public readonly bool IsFull => _count >= _output.Length;

        public void CountOnly(int bytes) => _total += bytes;

        public void Append(byte value)
        {
            _total++;
            if (_count >= _output.Length)
            {
                return;
            }

            _stage[_fill++] = value;
            if (_fill == _stage.Length)
            {
                Emit(_stage);
                _fill = 0;
            }
        }

        public void Append(scoped ReadOnlySpan<byte> data)
        {
            _total += data.Length;
            if (_count >= _output.Length || data.IsEmpty)
            {
                return;
            }

            var size = _stage.Length;
            if (_fill > 0)
            {
                var take = Math.Min(size - _fill, data.Length);
                data[..take].CopyTo(_stage[_fill..]);
                _fill += take;
                data = data[take..];
                if (_fill < size)
                {
                    return;
                }

                Emit(_stage);
                _fill = 0;
            }

            while (data.Length >= size && _count < _output.Length)
            {
                Emit(data[..size]);
                data = data[size..];
            }

            if (_count < _output.Length && !data.IsEmpty)
            {
                data.CopyTo(_stage);
                _fill = data.Length;
            }
        }

        private void Emit(scoped ReadOnlySpan<byte> block)
        {
            var hash = XxHash3.HashToUInt64(block, unchecked((long)_previous));
            _output[_count++] = hash;
            _previous = hash;
        }
    }
}
