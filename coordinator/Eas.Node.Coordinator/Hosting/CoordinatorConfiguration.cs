using System.Reflection;
using System.Text.Json;
using Eas.Node.Gateway.Configuration;

namespace Eas.Node.Coordinator.Hosting;

/// <summary>The outcome of reading the coordinator's configuration: options, or every error found.</summary>
/// <param name="Options">The bound options; null when there are errors.</param>
/// <param name="Errors">One line per problem, naming the file (when one was given), the key, the rule and the fix.</param>
public sealed record CoordinatorConfigurationResult(CoordinatorOptions? Options, IReadOnlyList<string> Errors);

/// <summary>
/// Reads <c>--config PATH</c> (a JSON file <c>{"Coordinator": {...}}</c>) plus <c>--Coordinator:Key=value</c>
/// overrides, and checks them strictly: an unknown key, a value of the wrong type or out of range is an error.
/// </summary>
public static class CoordinatorConfiguration
{
    private static readonly Dictionary<string, PropertyInfo> _properties = typeof(CoordinatorOptions)
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.CanWrite)
        .ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);

    /// <summary>Reads and validates the configuration given by the command line.</summary>
    public static CoordinatorConfigurationResult Load(IReadOnlyList<string> args)
    {
        var errors = new List<string>();
        string? configPath = null;
        var rest = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == "--config")
            {
                if (i + 1 >= args.Count)
                {
                    return new(null, ["--config: needs a path; write --config /etc/eas/coordinator.json"]);
                }

                configPath = args[++i];
            }
            else if (args[i].StartsWith("--config=", StringComparison.Ordinal))
            {
                configPath = args[i]["--config=".Length..];
            }
            else
            {
                rest.Add(args[i]);
            }
        }

        var builder = new ConfigurationBuilder();
        if (configPath is not null)
        {
            configPath = Path.GetFullPath(configPath);
            CheckFile(configPath, errors);
            if (errors.Count > 0)
            {
                return new(null, errors);
            }

            builder.AddJsonFile(configPath, optional: false, reloadOnChange: false);
        }

        builder.AddCommandLine([.. rest]);
        var where = configPath is null ? "command line" : $"{configPath} or the command line";
        CoordinatorOptions options;
        try
        {
            var configuration = builder.Build();
            foreach (var child in configuration.GetChildren())
            {
                if (!string.Equals(child.Key, CoordinatorOptions.SectionName, StringComparison.OrdinalIgnoreCase)
                    && !string.Equals(child.Key, EmbeddedGatewayConfig.SectionName, StringComparison.OrdinalIgnoreCase))
                {
                    errors.Add($"{where}: '{child.Key}' is not a known setting; only the 'Coordinator' and 'Gateway' (embedded gateway) sections exist (e.g. --Coordinator:Listen=http://127.0.0.1:9090)");
                }
            }

            options = configuration.GetSection(CoordinatorOptions.SectionName)
                .Get<CoordinatorOptions>(o => o.ErrorOnUnknownConfiguration = true) ?? new CoordinatorOptions();
            options.EmbeddedGatewaySettings = EmbeddedGatewayConfig.Read(configuration, where, errors);
        }
        catch (InvalidOperationException ex)
        {
            errors.Add($"{where}: {ex.Message}{(ex.InnerException is { } inner ? " (" + inner.Message + ")" : "")}; fix the value or remove the key");
            return new(null, errors);
        }
        catch (FormatException ex)
        {
            errors.Add($"{where}: {ex.Message}; write the file as JSON: {{\"Coordinator\": {{\"Listen\": \"http://127.0.0.1:9090\"}}}}");
            return new(null, errors);
        }

        errors.AddRange(CoordinatorOptionsValidator.Check(options).Select(e => $"{where}: {e}"));
        return errors.Count == 0 ? new(options, errors) : new(null, errors);
    }

    /// <summary>Checks the file's shape so that errors name the file and the key, not a binder exception.</summary>
    private static void CheckFile(string path, List<string> errors)
    {
        if (!File.Exists(path))
        {
            errors.Add($"{path}: the config file does not exist; create it or drop --config");
            return;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException ex)
        {
            errors.Add($"{path}: not valid JSON at line {(ex.LineNumber ?? 0) + 1}: {ex.Message}; fix the syntax");
            return;
        }
        catch (IOException ex)
        {
            errors.Add($"{path}: cannot be read: {ex.Message}; check the path and its permissions");
            return;
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                errors.Add($"{path}: the top level must be an object; write {{\"Coordinator\": {{...}}}}");
                return;
            }

            foreach (var section in document.RootElement.EnumerateObject())
            {
                if (string.Equals(section.Name, EmbeddedGatewayConfig.SectionName, StringComparison.OrdinalIgnoreCase))
                {
                    // The embedded gateway's settings: EmbeddedGatewayConfig checks each key and value.
                    if (section.Value.ValueKind != JsonValueKind.Object)
                    {
                        errors.Add($"{path}: 'Gateway' must be an object of the embedded gateway's settings, e.g. {{\"Llm\": {{\"HotPrefixShare\": 1}}}}");
                    }

                    continue;
                }

                if (!string.Equals(section.Name, CoordinatorOptions.SectionName, StringComparison.OrdinalIgnoreCase))
                {
                    errors.Add($"{path}: '{section.Name}' is not a known section; only 'Coordinator' and 'Gateway' (the embedded gateway's settings) are allowed");
                    continue;
                }

                if (section.Value.ValueKind != JsonValueKind.Object)
                {
                    errors.Add($"{path}: 'Coordinator' must be an object of settings");
                    continue;
                }

                foreach (var setting in section.Value.EnumerateObject())
                {
                    CheckSetting(path, setting, errors);
                }
            }
        }
    }

    private static void CheckSetting(string path, JsonProperty setting, List<string> errors)
    {
        var key = $"Coordinator:{setting.Name}";
        if (!_properties.TryGetValue(setting.Name, out var property))
        {
            errors.Add($"{path}: {key} is not a known setting; known settings: {string.Join(", ", _properties.Keys.Order(StringComparer.Ordinal))}");
            return;
        }

        var kind = setting.Value.ValueKind;
        var ok = property.PropertyType switch
        {
            var t when t == typeof(string) => kind == JsonValueKind.String,
            var t when t == typeof(bool) => kind is JsonValueKind.True or JsonValueKind.False,
            var t when t == typeof(int) => kind == JsonValueKind.Number && setting.Value.TryGetInt32(out _),
            var t when t == typeof(long) => kind == JsonValueKind.Number && setting.Value.TryGetInt64(out _),
            _ => true,
        };
        if (!ok)
        {
            var expected = property.PropertyType == typeof(string) ? "a string"
                : property.PropertyType == typeof(bool) ? "true or false"
                : "a whole number";
            errors.Add($"{path}: {key} is {setting.Value.GetRawText()} but must be {expected}; fix the value");
        }
    }
}
