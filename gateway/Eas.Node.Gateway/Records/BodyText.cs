using System.Text;
using System.Text.Unicode;

namespace Eas.Node.Gateway.Records;

/// <summary>How a recorded body is written as text: as is when it is UTF-8, else base64.</summary>
public static class BodyText
{
    /// <summary>The <c>body_encoding</c> of a body written as UTF-8 text.</summary>
    public const string Utf8Encoding = "utf8";

    /// <summary>The <c>body_encoding</c> of a body written as base64.</summary>
    public const string Base64Encoding = "base64";

    /// <summary>
    /// The text of <paramref name="body"/> and its encoding: <see cref="Utf8Encoding"/> when the bytes are valid UTF-8,
    /// else <see cref="Base64Encoding"/>. A truncated body may end inside a multi-byte character: that incomplete tail
    /// (at most 3 bytes) is left out of UTF-8 text rather than turning the whole body into base64.
    /// </summary>
    public static (string Text, string Encoding) Encode(ReadOnlySpan<byte> body, bool truncated) =>
        TryUtf8(body, truncated, out var text)
            ? (Encoding.UTF8.GetString(text), Utf8Encoding)
            : (Convert.ToBase64String(body), Base64Encoding);

    /// <summary>
    /// The bytes of <paramref name="body"/> to write as UTF-8 text (without an incomplete last character of a truncated
    /// body), or false when the body is to be written as base64.
    /// </summary>
    public static bool TryUtf8(ReadOnlySpan<byte> body, bool truncated, out ReadOnlySpan<byte> text)
    {
        text = truncated && !body.IsEmpty ? WithoutIncompleteTail(body) : body;
        return Utf8.IsValid(text);
    }

    private static ReadOnlySpan<byte> WithoutIncompleteTail(ReadOnlySpan<byte> body)
    {
        // Walk back over continuation bytes (10xxxxxx) to the lead byte of the last character.
        var lead = body.Length - 1;
        var stop = Math.Max(0, body.Length - 4);
        while (lead > stop && (body[lead] & 0xC0) == 0x80)
        {
            lead--;
        }

        var b = body[lead];
        var length = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 0;
        return length > body.Length - lead ? body[..lead] : body;
    }
}
