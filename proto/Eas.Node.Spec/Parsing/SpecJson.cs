using System.Text.Encodings.Web;
using System.Text.Json;

namespace Eas.Node.Spec.Parsing;

/// <summary>Serializer settings shared by the writer, the document editor and messages.</summary>
internal static class SpecJson
{
    // Specs are written to files and terminals, never into HTML: keep '+', '<' and non-ASCII readable.
    public static readonly JsonSerializerOptions CompactOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static readonly JsonSerializerOptions IndentedOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = true };

    public static readonly JsonWriterOptions IndentedWriter = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = true };

    /// <summary>Strict JSON, as EAS reads it; deeper documents are refused rather than overflowing a stack.</summary>
    public static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <summary>"line 2, column 7: 'x' is an invalid start of a value", with 1-based positions.</summary>
    public static string Describe(JsonException ex)
    {
        var message = ex.Message;
        var at = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        var reason = (at >= 0 ? message[..at] : message).Trim().TrimEnd('.');

        // System.Text.Json suggests changing its reader options; a spec author can't, so drop that advice.
        var advice = reason.IndexOf(". Change the reader options", StringComparison.Ordinal);
        reason = advice >= 0 ? reason[..advice] : reason;
        return $"line {(ex.LineNumber ?? 0) + 1}, column {(ex.BytePositionInLine ?? 0) + 1}: {reason}";
    }
}
