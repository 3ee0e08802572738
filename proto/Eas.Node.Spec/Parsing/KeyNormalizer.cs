using System.Text.Json;
using System.Text.Json.Nodes;

namespace Eas.Node.Spec.Parsing;

/// <summary>
/// Turns a parsed document into one where every dotted key is nested:
/// <c>{"rpc.keepalive": 5000}</c> and <c>{"rpc": {"keepalive": 5000}}</c> come out the same. EAS
/// accepts both spellings in the same object, so a key may arrive twice; the same value twice is
/// fine, two different values are a problem reported to the caller (the first value is kept). So is
/// text that is not valid UTF-16 (an escaped unpaired surrogate such as <c>"\ud800"</c>).
/// </summary>
internal static class KeyNormalizer
{
    /// <summary>A key given twice with different values, or a key or string that is not valid text.</summary>
    public sealed record Problem(string Path, string Message, string Fix);

    private const string SameKeyFix = "keep one of them";

    private const string TextFix = "write the character itself, or remove the escape";

    private const string BadText = "has an escaped unpaired surrogate (such as \\ud800), which is not valid text";

    public static JsonNode? Normalize(JsonElement element, string path, List<Problem> problems) =>
        element.ValueKind switch
        {
            JsonValueKind.Object => NormalizeObject(element, path, problems),
            JsonValueKind.Array => new JsonArray(element.EnumerateArray().Select((item, i) => Normalize(item, SpecPath.Index(path, i), problems)).ToArray()),
            JsonValueKind.String when !IsText(element) => Invalid(path, problems),
            // Cloned: the normalized tree outlives the pooled document it was read from.
            _ => JsonValue.Create(element.Clone()),
        };

    private static JsonValue Invalid(string path, List<Problem> problems)
    {
        problems.Add(new Problem(path, BadText, TextFix));
        return JsonValue.Create("\uFFFD");
    }

    private static bool IsText(JsonElement element)
    {
        try
        {
            _ = element.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static JsonObject NormalizeObject(JsonElement element, string path, List<Problem> problems)
    {
        var result = new JsonObject();
        foreach (var property in element.EnumerateObject())
        {
            if (!IsKeyText(property))
            {
                problems.Add(new Problem(path, $"a key {BadText}", TextFix));
                continue;
            }

            var segments = SpecPath.SplitKey(path, property.Name);
            var target = result;
            var targetPath = path;
            var blocked = false;
            foreach (var segment in segments.Take(segments.Count - 1))
            {
                targetPath = SpecPath.Child(targetPath, segment);
                if (!target.TryGetPropertyValue(segment, out var existing))
                {
                    var created = new JsonObject();
                    target[segment] = created;
                    target = created;
                }
                else if (existing is JsonObject existingObject)
                {
                    target = existingObject;
                }
                else
                {
                    problems.Add(new Problem(targetPath, $"is set to {Describe(existing)} and also used as an object by the key \"{property.Name}\"", SameKeyFix));
                    blocked = true;
                    break;
                }
            }

            if (!blocked)
            {
                var last = segments[^1];
                var valuePath = SpecPath.Child(targetPath, last);
                Insert(target, last, Normalize(property.Value, valuePath, problems), valuePath, problems);
            }
        }

        return result;
    }

    private static bool IsKeyText(JsonProperty property)
    {
        try
        {
            _ = property.Name;
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static void Insert(JsonObject target, string key, JsonNode? value, string path, List<Problem> problems)
    {
        if (!target.TryGetPropertyValue(key, out var existing))
        {
            target[key] = value;
            return;
        }

        if (existing is JsonObject existingObject && value is JsonObject incoming)
        {
            // "rpc": {...} and "rpc.enable_sigterm": true each contribute keys to one object.
            foreach (var (childKey, childValue) in incoming.ToList())
            {
                incoming.Remove(childKey);
                Insert(existingObject, childKey, childValue, SpecPath.Child(path, childKey), problems);
            }

            return;
        }

        if (!JsonNode.DeepEquals(existing, value))
        {
            problems.Add(new Problem(path, $"is set twice with different values ({Describe(existing)} and {Describe(value)}), once nested and once as a dotted key, or as a repeated key", SameKeyFix));
        }
    }

    /// <summary>Numbers and booleans are shown; strings may be secrets (tokens, env values), so only their kind is.</summary>
    public static string Describe(JsonNode? node) => node?.GetValueKind() switch
    {
        null or JsonValueKind.Null => "null",
        JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => node.ToJsonString(),
        JsonValueKind.String => "a string",
        JsonValueKind.Array => "an array",
        _ => "an object",
    };
}
