using System.Collections.Frozen;
using System.Reflection;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Eas.Node.Gateway.Records;

/// <summary>Which headers a call record keeps, and the snapshot of a header collection in record form.</summary>
public static class CallRecordHeaders
{
    // HeaderNames' constants (Kestrel hands over these very strings for the headers it knows) in lower case.
    private static readonly FrozenDictionary<string, string> _lowerCaseNames = typeof(HeaderNames)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.FieldType == typeof(string))
        .Select(f => (string)f.GetValue(null)!)
        .Where(n => n.Length > 0 && !n.StartsWith(':'))
        .Distinct(StringComparer.Ordinal)
        .ToFrozenDictionary(n => n, n => n.ToLowerInvariant(), StringComparer.Ordinal);

    /// <summary>
    /// False for headers that carry credentials and are never written: any header whose name contains
    /// "authorization" in any case (<c>Authorization</c>, <c>Proxy-Authorization</c>, <c>X-Forwarded-Authorization</c>, …).
    /// Cookies and every other header are kept: they are the caller's data, like the bodies.
    /// </summary>
    public static bool IsRecorded(string name) =>
        !name.Contains("authorization", StringComparison.OrdinalIgnoreCase);

    /// <summary>The recorded headers of <paramref name="headers"/>: names in lower case, several values joined by ", ".</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Snapshot(IHeaderDictionary headers)
    {
        if (headers.Count == 0)
        {
            return [];
        }

        var snapshot = new KeyValuePair<string, string>[headers.Count];
        var count = 0;
        foreach (var (name, values) in headers)
        {
            if (IsRecorded(name) && count < snapshot.Length)
            {
                snapshot[count++] = new(LowerCase(name), Join(values));
            }
        }

        return count == snapshot.Length ? snapshot : snapshot.AsSpan(0, count).ToArray();
    }

    /// <summary>
    /// <paramref name="name"/> in lower case, without a new string for the common header names (HTTP/1.1 servers hand
    /// them over as "Content-Type", "Host"…) or for a name that is already in lower case (HTTP/2).
    /// </summary>
    internal static string LowerCase(string name) =>
        _lowerCaseNames.TryGetValue(name, out var lower) ? lower : name.ToLowerInvariant();

    private static string Join(StringValues values) => values.Count switch
    {
        0 => "",
        1 => values[0] ?? "",
        _ => string.Join(", ", values.ToArray()),
    };
}
