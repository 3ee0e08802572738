using System.Text.RegularExpressions;

namespace Eas.Node.Spec.Parsing;

/// <summary>
/// Builds the JSON paths diagnostics carry (<c>containers[0].port</c>), and the schema paths the key
/// tables use (<c>containers[].port</c>). The document root is the empty string; it reads <c>$</c> in a
/// diagnostic.
/// </summary>
internal static partial class SpecPath
{
    public const string Root = "";

    /// <summary>Objects whose keys are data (label names, feature flags), not spec keys: never split on dots.</summary>
    private static readonly HashSet<string> _maps = new(StringComparer.Ordinal)
    {
        "features",
        "labels",
        "metadata.node_selector",
    };

    public static string Child(string parent, string key)
    {
        if (!PlainKey().IsMatch(key))
        {
            return $"{parent}[\"{key.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)}\"]";
        }

        return parent.Length == 0 ? key : $"{parent}.{key}";
    }

    public static string Index(string parent, int index) => $"{parent}[{index}]";

    public static string Display(string path) => path.Length == 0 ? "$" : path;

    /// <summary>The path with array indexes blanked: <c>containers[0].port</c> → <c>containers[].port</c>.</summary>
    public static string Schema(string path) => ArrayIndex().Replace(path, "[]");

    /// <summary>True when the object at <paramref name="path"/> is a free-form map whose keys may contain dots.</summary>
    public static bool IsMap(string path) => _maps.Contains(Schema(path));

    /// <summary>
    /// Splits a possibly dotted key written in the object at <paramref name="objectPath"/> into nested
    /// keys: <c>rpc.keepalive</c> → <c>rpc</c>, <c>keepalive</c>. A key with an empty part
    /// (<c>a..b</c>) stays whole; so does the rest of a key once it reaches a free-form map
    /// (<c>features.eas.aliyun.com/x</c> → <c>features</c>, <c>eas.aliyun.com/x</c>).
    /// </summary>
    public static IReadOnlyList<string> SplitKey(string objectPath, string key)
    {
        if (IsMap(objectPath) || !key.Contains('.', StringComparison.Ordinal))
        {
            return [key];
        }

        var parts = key.Split('.');
        if (parts.Any(p => p.Length == 0))
        {
            return [key];
        }

        var segments = new List<string>();
        var path = objectPath;
        for (var i = 0; i < parts.Length; i++)
        {
            segments.Add(parts[i]);
            path = Child(path, parts[i]);
            if (i < parts.Length - 1 && IsMap(path))
            {
                segments.Add(string.Join('.', parts[(i + 1)..]));
                break;
            }
        }

        return segments;
    }

    [GeneratedRegex(@"^[A-Za-z0-9_\-]+\z")]
    private static partial Regex PlainKey();

    [GeneratedRegex(@"\[\d+\]")]
    private static partial Regex ArrayIndex();
}
