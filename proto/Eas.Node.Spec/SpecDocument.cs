using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Eas.Node.Spec.Parsing;

namespace Eas.Node.Spec;

/// <summary>
/// Edits spec documents as JSON, before validation: what <c>easctl modify NAME -s patch.json</c> and
/// <c>easctl modify NAME -D metadata.instance=3</c> do to the stored spec. Dotted keys are nested first
/// (as <see cref="SpecParser"/> does), so <c>"metadata.instance"</c> and
/// <c>{"metadata": {"instance": …}}</c> edit the same value. The result is indented JSON; run it
/// through <see cref="SpecParser.Parse"/> to validate it.
/// </summary>
public static partial class SpecDocument
{
    /// <summary>
    /// Merges <paramref name="patchJson"/> into <paramref name="baseJson"/> (JSON merge patch,
    /// RFC 7396): objects merge key by key, recursively; arrays and scalars in the patch replace what
    /// was there; a <c>null</c> in the patch removes the key.
    /// </summary>
    /// <exception cref="SpecDocumentException">Either document is not valid JSON, not an object, or sets a key twice with different values.</exception>
    public static string Merge(string baseJson, string patchJson)
    {
        var target = ParseObject(baseJson, "the current spec");
        var patch = ParseObject(patchJson, "the patch");
        MergeInto(target, patch);
        return target.ToJsonString(SpecJson.IndentedOptions);
    }

    /// <summary>
    /// Sets one value, as in EAS <c>modify NAME -D metadata.instance=3</c>. <paramref name="dottedKey"/>
    /// is a dotted path with optional indexes (<c>containers[0].port</c>); missing objects on the way are
    /// created, and an index equal to an array's length appends. <paramref name="value"/> is read as
    /// JSON when it is valid JSON (<c>3</c>, <c>true</c>, <c>"x"</c>, <c>[…]</c>, <c>{…}</c>) and as a
    /// plain string otherwise (<c>python3 app.py</c>); <c>null</c> removes the key.
    /// </summary>
    /// <exception cref="SpecDocumentException">The document is not a valid JSON object, the key is malformed, or the path runs through a value that is not an object or array.</exception>
    public static string SetValue(string json, string dottedKey, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var root = ParseObject(json, "the current spec");
        var steps = ParseKey(dottedKey);
        var newValue = ParseValue(value, steps[^1].Path);

        JsonNode current = root;
        for (var i = 0; i < steps.Count - 1; i++)
        {
            current = Descend(current, steps[i], steps[i + 1], dottedKey);
        }

        Assign(current, steps[^1], newValue, dottedKey);
        return root.ToJsonString(SpecJson.IndentedOptions);
    }

    /// <summary>One step of a key path: an object key or an array index, and the path up to and including it.</summary>
    private sealed record Step(string? Key, int Index, string Path, string ParentPath);

    private static JsonObject ParseObject(string json, string what)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonNode? node;
        try
        {
            using var document = JsonDocument.Parse(json, SpecJson.DocumentOptions);
            node = Normalize(document.RootElement, SpecPath.Root, what);
        }
        catch (JsonException ex)
        {
            throw new SpecDocumentException($"{what} is not valid JSON at {SpecJson.Describe(ex)}", ex);
        }

        return node as JsonObject
            ?? throw new SpecDocumentException($"{what} must be a JSON object, got {SpecReader.Describe(node)}");
    }

    private static JsonNode? Normalize(JsonElement element, string path, string what)
    {
        var problems = new List<KeyNormalizer.Problem>();
        var node = KeyNormalizer.Normalize(element, path, problems);
        if (problems.Count > 0)
        {
            var list = string.Join("; ", problems.Select(c => $"{SpecPath.Display(c.Path)} {c.Message}"));
            throw new SpecDocumentException($"{what} cannot be read: {list}");
        }

        return node;
    }

    private static void MergeInto(JsonObject target, JsonObject patch)
    {
        foreach (var (key, value) in patch.ToList())
        {
            if (value is null)
            {
                target.Remove(key);
            }
            else if (value is JsonObject patchObject)
            {
                if (target[key] is not JsonObject targetObject)
                {
                    targetObject = [];
                    target[key] = targetObject;
                }

                MergeInto(targetObject, patchObject);
            }
            else
            {
                target[key] = value.DeepClone();
            }
        }
    }

    private static List<Step> ParseKey(string dottedKey)
    {
        ArgumentNullException.ThrowIfNull(dottedKey);
        const string Fix = "write keys like metadata.instance or containers[0].port";
        var steps = new List<Step>();
        var path = SpecPath.Root;
        var parts = dottedKey.Split('.');
        for (var i = 0; i < parts.Length; i++)
        {
            if (SpecPath.IsMap(path))
            {
                // Label and feature names contain dots: the rest of the key is one name.
                var rest = string.Join('.', parts[i..]);
                steps.Add(new Step(rest, 0, SpecPath.Child(path, rest), path));
                break;
            }

            var match = KeyPart().Match(parts[i]);
            if (!match.Success)
            {
                throw new SpecDocumentException($"invalid key \"{dottedKey}\": \"{parts[i]}\" is not a key name with optional [index]; {Fix}");
            }

            var name = match.Groups["name"].Value;
            steps.Add(new Step(name, 0, SpecPath.Child(path, name), path));
            path = SpecPath.Child(path, name);
            foreach (Capture capture in match.Groups["index"].Captures)
            {
                if (!int.TryParse(capture.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                {
                    throw new SpecDocumentException($"invalid key \"{dottedKey}\": index {capture.Value} is too large; {Fix}");
                }

                steps.Add(new Step(null, index, SpecPath.Index(path, index), path));
                path = SpecPath.Index(path, index);
            }
        }

        return steps;
    }

    private static JsonNode? ParseValue(string value, string path)
    {
        try
        {
            using var document = JsonDocument.Parse(value, SpecJson.DocumentOptions);
            return Normalize(document.RootElement, path, "the value");
        }
        catch (JsonException)
        {
            // Not JSON: the text itself, the way -D metadata.name=my_service means a string.
            return JsonValue.Create(value);
        }
    }

    private static JsonNode Descend(JsonNode current, Step step, Step next, string dottedKey)
    {
        JsonNode Create() => next.Key is null ? new JsonArray() : new JsonObject();

        if (step.Key is { } key)
        {
            var obj = current as JsonObject ?? throw NotA(current, step, "an object", dottedKey);
            if (obj[key] is { } child)
            {
                return child;
            }

            var created = Create();
            obj[key] = created;
            return created;
        }

        var array = current as JsonArray ?? throw NotA(current, step, "an array", dottedKey);
        if (step.Index < array.Count && array[step.Index] is { } element)
        {
            return element;
        }

        CheckIndex(array, step, dottedKey);
        var appended = Create();
        if (step.Index == array.Count)
        {
            array.Add(appended);
        }
        else
        {
            array[step.Index] = appended;
        }

        return appended;
    }

    private static void Assign(JsonNode current, Step step, JsonNode? value, string dottedKey)
    {
        if (step.Key is { } key)
        {
            var obj = current as JsonObject ?? throw NotA(current, step, "an object", dottedKey);
            if (value is null)
            {
                obj.Remove(key);
            }
            else
            {
                obj[key] = value;
            }

            return;
        }

        var array = current as JsonArray ?? throw NotA(current, step, "an array", dottedKey);
        CheckIndex(array, step, dottedKey);
        if (value is null)
        {
            if (step.Index < array.Count)
            {
                array.RemoveAt(step.Index);
            }
        }
        else if (step.Index == array.Count)
        {
            array.Add(value);
        }
        else
        {
            array[step.Index] = value;
        }
    }

    private static void CheckIndex(JsonArray array, Step step, string dottedKey)
    {
        if (step.Index > array.Count)
        {
            throw new SpecDocumentException(
                $"cannot set {dottedKey}: {SpecPath.Display(step.ParentPath)} has {array.Count} element(s), so the index can be at most {array.Count} (which appends)");
        }
    }

    private static SpecDocumentException NotA(JsonNode current, Step step, string expected, string dottedKey) =>
        new($"cannot set {dottedKey}: {SpecPath.Display(step.ParentPath)} is {KeyNormalizer.Describe(current)}, not {expected}");

    [GeneratedRegex(@"^(?<name>[^\[\]]+)(\[(?<index>[0-9]+)\])*\z")]
    private static partial Regex KeyPart();
}
