using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Eas.Node.Gateway.Records;

/// <summary>
/// One call record as one JSON object on one line (the file sink's format, docs/traffic.md):
/// <c>{"time","service","group","instance","node","method","path","query","status","latency_ms","trace_id","client",
/// "request":{"headers":{…},"body","body_truncated","body_encoding"},"response":{…}}</c>.
/// </summary>
public static class CallRecordJson
{
    private static readonly JsonWriterOptions _options = new()
    {
        // Bodies are often JSON or text in any language: keep them readable. Quotes, backslashes and control characters
        // are still escaped, so every record stays one line of valid JSON.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    // One writer per thread (a file sink's writer thread), pointed at each line's output: no writer allocated per record.
    [ThreadStatic]
    private static Utf8JsonWriter? _threadWriter;

    /// <summary>Writes <paramref name="record"/> and a newline to <paramref name="output"/>.</summary>
    public static void WriteLine(CallRecord record, IBufferWriter<byte> output)
    {
        var json = _threadWriter;
        if (json is null)
        {
            _threadWriter = json = new Utf8JsonWriter(output, _options);
        }
        else
        {
            json.Reset(output);
        }

        try
        {
            Write(json, record);
            json.Flush();
        }
        finally
        {
            // Lets go of the output (a writer that threw half-way is reset by its next use anyway).
            json.Reset(Stream.Null);
        }

        output.Write("\n"u8);
    }

    /// <summary>The record as one line of JSON (with its newline).</summary>
    public static byte[] ToLine(CallRecord record)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        WriteLine(record, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    private static void Write(Utf8JsonWriter json, CallRecord record)
    {
        json.WriteStartObject();
        Span<byte> time = stackalloc byte[32]; // RFC 3339, UTC, milliseconds: 24 bytes
        var formatted = record.Time.UtcDateTime.TryFormat(time, out var length, TimeFormat, CultureInfo.InvariantCulture);
        Debug.Assert(formatted, "a 32-byte span holds the time");
        json.WriteString("time"u8, time[..length]);
        json.WriteString("service"u8, record.Service);
        json.WriteString("group"u8, record.Group);
        json.WriteString("instance"u8, record.Instance);
        json.WriteString("node"u8, record.Node);
        json.WriteString("method"u8, record.Method);
        json.WriteString("path"u8, record.Path);
        json.WriteString("query"u8, record.Query);
        json.WriteNumber("status"u8, record.Status);
        json.WriteNumber("latency_ms"u8, record.LatencyMs);
        json.WriteString("trace_id"u8, record.TraceId);
        json.WriteString("client"u8, record.Client);
        WriteMessage(json, "request"u8, record.Request);
        WriteMessage(json, "response"u8, record.Response);
        json.WriteEndObject();
    }

    private static void WriteMessage(Utf8JsonWriter json, ReadOnlySpan<byte> name, CallRecordMessage message)
    {
        json.WriteStartObject(name);
        json.WriteStartObject("headers"u8);
        foreach (var (header, value) in message.Headers)
        {
            if (CallRecordHeaders.IsRecorded(header))
            {
                json.WriteString(header, value);
            }
        }

        json.WriteEndObject();
        var utf8 = BodyText.TryUtf8(message.Body.Span, message.BodyTruncated, out var text);
        if (utf8)
        {
            json.WriteString("body"u8, text);
        }
        else
        {
            json.WriteBase64String("body"u8, message.Body.Span);
        }

        json.WriteBoolean("body_truncated"u8, message.BodyTruncated);
        json.WriteString("body_encoding"u8, utf8 ? BodyText.Utf8Encoding : BodyText.Base64Encoding);
        json.WriteEndObject();
    }
}
