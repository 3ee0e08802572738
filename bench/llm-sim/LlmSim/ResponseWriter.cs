using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Eas.Node.LlmSim;

/// <summary>
/// Writes OpenAI-format responses: server-sent events (<c>data: {json}\n\n</c> per chunk, then <c>data: [DONE]\n\n</c>)
/// and whole (non-streaming) bodies. Every JSON object also carries <c>"replica"</c>, the replica's name.
/// </summary>
public sealed class ResponseWriter : IDisposable
{
    private static readonly byte[] _dataPrefix = "data: "u8.ToArray();
    private static readonly byte[] _eventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] _done = "data: [DONE]\n\n"u8.ToArray();
    private static readonly JsonWriterOptions _jsonOptions = new() { SkipValidation = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly IBufferWriter<byte> _out;
    private readonly Utf8JsonWriter _json;
    private readonly bool _chat;
    private readonly string _id;
    private readonly long _created;
    private readonly string _model;
    private readonly string _replica;

    public ResponseWriter(IBufferWriter<byte> output, bool chat, string id, long created, string model, string replica)
    {
        _out = output;
        _json = new Utf8JsonWriter(output, _jsonOptions);
        _chat = chat;
        _id = id;
        _created = created;
        _model = model;
        _replica = replica;
    }

    /// <summary>One token as an SSE event; the first chat chunk also carries the assistant role.</summary>
    public void WriteTokenEvent(TokenEvent token)
    {
        Begin();
        _json.WriteStartArray("choices");
        _json.WriteStartObject();
        _json.WriteNumber("index", 0);
        if (_chat)
        {
            _json.WriteStartObject("delta");
            if (token.Index == 0)
            {
                _json.WriteString("role", "assistant");
            }

            _json.WriteString("content", " " + token.Text);
            _json.WriteEndObject();
        }
        else
        {
            _json.WriteString("text", " " + token.Text);
        }

        _json.WriteNull("logprobs");
        if (token.Last)
        {
            _json.WriteString("finish_reason", "length");
        }
        else
        {
            _json.WriteNull("finish_reason");
        }

        _json.WriteEndObject();
        _json.WriteEndArray();
        End();
    }

    /// <summary>The usage event sent after the last token when <c>stream_options.include_usage</c> is true.</summary>
    public void WriteUsageEvent(int promptTokens, int completionTokens, int cachedTokens)
    {
        Begin();
        _json.WriteStartArray("choices");
        _json.WriteEndArray();
        WriteUsage(promptTokens, completionTokens, cachedTokens);
        End();
    }

    public void WriteDone() => _out.Write(_done);

    public void Dispose() => _json.Dispose();

    /// <summary>A whole non-streaming response body.</summary>
    public void WriteWhole(string text, int promptTokens, int completionTokens, int cachedTokens)
    {
        StartObject(_chat ? "chat.completion" : "text_completion");
        _json.WriteStartArray("choices");
        _json.WriteStartObject();
        _json.WriteNumber("index", 0);
        if (_chat)
        {
            _json.WriteStartObject("message");
            _json.WriteString("role", "assistant");
            _json.WriteString("content", text);
            _json.WriteEndObject();
        }
        else
        {
            _json.WriteString("text", text);
        }

        _json.WriteNull("logprobs");
        _json.WriteString("finish_reason", "length");
        _json.WriteEndObject();
        _json.WriteEndArray();
        WriteUsage(promptTokens, completionTokens, cachedTokens);
        _json.WriteEndObject();
        _json.Flush();
    }

    /// <summary>An OpenAI error body.</summary>
    public static void WriteError(IBufferWriter<byte> output, ApiError error)
    {
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        json.WriteStartObject("error");
        json.WriteString("message", error.Message);
        json.WriteString("type", error.Type);
        if (error.Param is null)
        {
            json.WriteNull("param");
        }
        else
        {
            json.WriteString("param", error.Param);
        }

        json.WriteNumber("code", error.Status);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private void Begin()
    {
        _out.Write(_dataPrefix);
        StartObject(_chat ? "chat.completion.chunk" : "text_completion");
    }

    // The fields every response object (whole or chunk) starts with.
    private void StartObject(string objectName)
    {
        _json.Reset(_out);
        _json.WriteStartObject();
        _json.WriteString("id", _id);
        _json.WriteString("object", objectName);
        _json.WriteNumber("created", _created);
        _json.WriteString("model", _model);
        _json.WriteString("replica", _replica);
    }

    private void End()
    {
        _json.WriteEndObject();
        _json.Flush();
        _out.Write(_eventEnd);
    }

    private void WriteUsage(int promptTokens, int completionTokens, int cachedTokens)
    {
        _json.WriteStartObject("usage");
        _json.WriteNumber("prompt_tokens", promptTokens);
        _json.WriteNumber("total_tokens", promptTokens + completionTokens);
        _json.WriteNumber("completion_tokens", completionTokens);
        _json.WriteStartObject("prompt_tokens_details");
        _json.WriteNumber("cached_tokens", cachedTokens);
        _json.WriteEndObject();
        _json.WriteEndObject();
    }
}
