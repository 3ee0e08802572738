using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Eas.Node.Spec.Parsing;

/// <summary>
/// Reads typed values out of a normalized spec and collects every diagnostic on the way, so one
/// pass reports all errors. An accessor returns null when the key is absent or its value is wrong;
/// a wrong value has been reported, and a spec with errors is never built, so callers may simply
/// apply their default to null.
/// </summary>
internal sealed class SpecReader
{
    private readonly List<SpecDiagnostic> _errors = [];
    private readonly List<SpecDiagnostic> _warnings = [];

    public IReadOnlyList<SpecDiagnostic> Errors => _errors;

    public IReadOnlyList<SpecDiagnostic> Warnings => _warnings;

    public bool HasErrors => _errors.Count > 0;

    public void Error(string path, string message, string fix) => _errors.Add(new SpecDiagnostic(SpecPath.Display(path), message, fix));

    public void Warning(string path, string message, string fix) => _warnings.Add(new SpecDiagnostic(SpecPath.Display(path), message, fix));

    /// <summary>Warns about every key of <paramref name="obj"/> that is not in <paramref name="read"/>.</summary>
    public void OtherKeys(JsonObject obj, string path, params string[] read)
    {
        foreach (var (key, _) in obj)
        {
            if (read.Contains(key, StringComparer.Ordinal))
            {
                continue;
            }

            var keyPath = SpecPath.Child(path, key);
            if (SpecKeys.IsCloudOnly(keyPath))
            {
                Warning(keyPath, "ignored on a self-hosted cluster", "remove it, or keep it for Alibaba Cloud EAS; it has no effect here");
            }
            else if (SpecKeys.IsNotSupportedYet(keyPath))
            {
                Warning(keyPath, "not supported yet, ignored", "remove it; Eas.Node does not act on it yet");
            }
            else
            {
                Warning(keyPath, $"unknown key \"{key}\", ignored", $"check the spelling; keys read here: {string.Join(", ", read)}");
            }
        }
    }

    /// <summary>Reports <paramref name="key"/> missing from <paramref name="obj"/>; true when it is there.</summary>
    public bool Require(JsonObject obj, string path, string key, string fix)
    {
        if (obj.ContainsKey(key))
        {
            return true;
        }

        Error(SpecPath.Child(path, key), "is required", fix);
        return false;
    }

    public long? Integer(JsonObject obj, string path, string key, long min, long max, string rule, string fix) =>
        obj.TryGetPropertyValue(key, out var node) ? Integer(node, SpecPath.Child(path, key), min, max, rule, fix) : null;

    public long? Integer(JsonNode? node, string path, long min, long max, string rule, string fix)
    {
        if (Kind(node) != JsonValueKind.Number)
        {
            WrongType(path, node, "a whole number");
            return null;
        }

        var element = Element(node!);
        var raw = element.GetRawText();
        long value;
        if (element.TryGetInt64(out var exact))
        {
            value = exact;
        }
        else if (element.TryGetDouble(out var number) && Math.Abs(number) < 1e15 && number == Math.Floor(number))
        {
            // 2.0 and 1e3 are whole numbers written another way.
            value = (long)number;
        }
        else if (element.TryGetDouble(out number) && Math.Abs(number) < 1e15)
        {
            Error(path, $"must be a whole number, got {raw}", fix);
            return null;
        }
        else
        {
            Error(path, $"{raw} is out of range; {rule}", fix);
            return null;
        }

        if (value < min || value > max)
        {
            Error(path, $"{raw} is out of range; {rule}", fix);
            return null;
        }

        return value;
    }

    /// <summary>A number above <paramref name="aboveExclusive"/> and at most <paramref name="max"/>.</summary>
    public double? Number(JsonObject obj, string path, string key, double aboveExclusive, double max, string rule, string fix)
    {
        if (!obj.TryGetPropertyValue(key, out var node))
        {
            return null;
        }

        path = SpecPath.Child(path, key);
        if (Kind(node) != JsonValueKind.Number)
        {
            WrongType(path, node, "a number");
            return null;
        }

        var element = Element(node!);
        if (!element.TryGetDouble(out var value) || value <= aboveExclusive || value > max)
        {
            Error(path, $"{element.GetRawText()} is out of range; {rule}", fix);
            return null;
        }

        return value;
    }

    public bool? Bool(JsonObject obj, string path, string key)
    {
        if (!obj.TryGetPropertyValue(key, out var node))
        {
            return null;
        }

        var kind = Kind(node);
        if (kind is JsonValueKind.True or JsonValueKind.False)
        {
            return kind == JsonValueKind.True;
        }

        WrongType(SpecPath.Child(path, key), node, "true or false");
        return null;
    }

    public string? String(JsonObject obj, string path, string key) =>
        obj.TryGetPropertyValue(key, out var node) ? String(node, SpecPath.Child(path, key)) : null;

    public string? String(JsonNode? node, string path)
    {
        if (Kind(node) == JsonValueKind.String)
        {
            return node!.GetValue<string>();
        }

        WrongType(path, node, "a string");
        return null;
    }

    public JsonObject? Object(JsonObject obj, string path, string key) =>
        obj.TryGetPropertyValue(key, out var node) ? Object(node, SpecPath.Child(path, key)) : null;

    public JsonObject? Object(JsonNode? node, string path)
    {
        if (node is JsonObject result)
        {
            return result;
        }

        WrongType(path, node, "an object");
        return null;
    }

    public JsonArray? Array(JsonObject obj, string path, string key)
    {
        if (!obj.TryGetPropertyValue(key, out var node))
        {
            return null;
        }

        if (node is JsonArray result)
        {
            return result;
        }

        WrongType(SpecPath.Child(path, key), node, "an array");
        return null;
    }

    public static JsonValueKind Kind(JsonNode? node) => node?.GetValueKind() ?? JsonValueKind.Null;

    /// <summary>How a value reads in a message: strings are quoted and cut short.</summary>
    public static string Describe(JsonNode? node) => Kind(node) switch
    {
        JsonValueKind.Null => "null",
        JsonValueKind.String => $"the string {Quote(node!.GetValue<string>())}",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => node!.ToJsonString(),
    };

    public static string Quote(string text)
    {
        const int Max = 60;
        var shown = text.Length > Max ? text[..Max] + "…" : text;
        return JsonSerializer.Serialize(shown, SpecJson.CompactOptions);
    }

    private void WrongType(string path, JsonNode? node, string expected)
    {
        var text = Kind(node) == JsonValueKind.String ? node!.GetValue<string>().Trim() : null;
        string fix;
        if (text is not null && expected is "a number" or "a whole number"
            && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
        {
            fix = $"write {text} without quotes";
        }
        else if (text is "true" or "false" && expected == "true or false")
        {
            fix = $"write {text} without quotes";
        }
        else if (Kind(node) is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False && expected == "a string")
        {
            fix = $"put it in quotes: \"{node!.ToJsonString()}\"";
        }
        else if (node is null)
        {
            fix = $"give {expected}, or remove the key to use the default";
        }
        else
        {
            fix = $"give {expected}";
        }

        Error(path, $"must be {expected}, got {Describe(node)}", fix);
    }

    private static JsonElement Element(JsonNode node) =>
        node is JsonValue value && value.TryGetValue<JsonElement>(out var element)
            ? element
            : JsonDocument.Parse(node.ToJsonString()).RootElement.Clone();
}
