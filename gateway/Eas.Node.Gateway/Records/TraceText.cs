using System.Buffers;
using System.Diagnostics;

namespace Eas.Node.Gateway.Records;

/// <summary>W3C trace ids and span ids as hex text.</summary>
internal static class TraceText
{
    private static readonly SearchValues<char> _hex = SearchValues.Create("0123456789abcdefABCDEF");
    private static readonly SearchValues<char> _lowerHex = SearchValues.Create("0123456789abcdef");

    public static bool IsHex(ReadOnlySpan<char> text) => !text.ContainsAnyExcept(_hex);

    public static ActivityTraceId ParseTraceId(string hex) =>
        hex.Length == 32 && !hex.AsSpan().ContainsAnyExcept(_lowerHex) && hex.AsSpan().ContainsAnyExcept('0')
            ? ActivityTraceId.CreateFromString(hex)
            : default;

    public static ActivitySpanId ParseSpanId(string hex) =>
        hex.Length == 16 && !hex.AsSpan().ContainsAnyExcept(_lowerHex) && hex.AsSpan().ContainsAnyExcept('0')
            ? ActivitySpanId.CreateFromString(hex)
            : default;
}
