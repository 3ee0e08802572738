using System.Buffers;
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

    /// <summary>Writes <paramref name="record"/> and a newline to <paramref name="output"/>.</summary>
    public static void WriteLine(CallRecord record, IBufferWriter<byte> output)
    {
        using (var json = new Utf8JsonWriter(output, _options))
        {
            Write(json, record);
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

    /// <summary>The record's time as written: RFC 3339, UTC, milliseconds.</summary>
    public static string FormatTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static void Write(Utf8JsonWriter json, CallRecord record)
    {
        json.WriteStartObject();
        json.WriteString("time"u8, FormatTime(record.Time));
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
        var (text, encoding) = BodyText.Encode(message.Body.Span, message.BodyTruncated);
        json.WriteString("body"u8, text);
        json.WriteBoolean("body_truncated"u8, message.BodyTruncated);
        json.WriteString("body_encoding"u8, encoding);
        json.WriteEndObject();
    }
}
