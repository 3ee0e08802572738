using Microsoft.Extensions.Primitives;

namespace Eas.Node.Gateway.Records;

/// <summary>Which headers a call record keeps, and the snapshot of a header collection in record form.</summary>
public static class CallRecordHeaders
{
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

        var list = new List<KeyValuePair<string, string>>(headers.Count);
        foreach (var (name, values) in headers)
        {
            if (IsRecorded(name))
            {
                list.Add(new(name.ToLowerInvariant(), Join(values)));
            }
        }

        return list;
    }

    private static string Join(StringValues values) => values.Count switch
    {
        0 => "",
        1 => values[0] ?? "",
        _ => string.Join(", ", values.ToArray()),
    };
}
