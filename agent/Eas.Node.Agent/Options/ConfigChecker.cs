using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Eas.Node.Agent.Options;

/// <summary>
/// Strict checks the binder does not do: unknown keys (a typo must not silently fall back to a
/// default) and values that do not convert to the key's type. Value rules live in <see cref="AgentOptionsValidator"/>.
/// </summary>
internal static class ConfigChecker
{
    private static readonly HashSet<string> _knownSections = new(StringComparer.OrdinalIgnoreCase) { AgentOptions.SectionName, "Logging" };

    private static readonly HashSet<string> _integerKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        nameof(AgentOptions.CpuMillis), nameof(AgentOptions.MemoryMib), nameof(AgentOptions.HeartbeatSeconds),
    };

    /// <summary>Every problem in the "Agent" section and in the file's top level, each naming source and key.</summary>
    public static IReadOnlyList<string> Check(IConfiguration configuration, IConfiguration? file, ConfigSource source)
    {
        var errors = new List<string>();
        if (file is not null)
        {
            foreach (var top in file.GetChildren())
            {
                if (!_knownSections.Contains(top.Key))
                {
                    errors.Add($"{source.Name}: {top.Key}: unknown section; the agent reads only \"{AgentOptions.SectionName}\" (move the key under it or remove it)");
                }
            }
        }

        var known = string.Join(", ", AgentOptions.Keys);
        foreach (var child in configuration.GetSection(AgentOptions.SectionName).GetChildren())
        {
            var where = WhereFrom(file, child.Path, source);
            var key = AgentOptions.Keys.FirstOrDefault(k => string.Equals(k, child.Key, StringComparison.OrdinalIgnoreCase));
            if (key is null)
            {
                errors.Add($"{where}: {child.Path}: unknown key; known keys are {known}");
                continue;
            }

            var isObject = child.GetChildren().Any();
            if (key == nameof(AgentOptions.Gpu))
            {
                CheckSection(child, GpuOptions.Keys, GpuOptions.IntegerKeys, "{\"NvmlLibrary\": \"libnvidia-ml.so.1\"}", file, source, errors);
                continue;
            }

            if (key == nameof(AgentOptions.Storage))
            {
                CheckSection(child, StorageOptions.Keys, StorageOptions.IntegerKeys, "{\"SecretsFile\": \"/etc/eas/storage-secrets.json\"}", file, source, errors);
                continue;
            }

            if (key == nameof(AgentOptions.Labels))
            {
                if (!isObject && !string.IsNullOrEmpty(child.Value))
                {
                    errors.Add($"{where}: {child.Path}: must be an object of string labels, like {{\"zone\": \"a\"}}");
                }

                foreach (var label in child.GetChildren().Where(l => l.GetChildren().Any()))
                {
                    errors.Add($"{where}: {label.Path}: a label value must be a string, not an object or array");
                }

                continue;
            }

            if (isObject)
            {
                errors.Add($"{where}: {child.Path}: must be a single value, not an object or array");
                continue;
            }

            if (_integerKeys.Contains(key) && !long.TryParse(child.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
            {
                errors.Add($"{where}: {child.Path}: '{child.Value}' is not a whole number; write a number without quotes or units");
            }

            if (string.Equals(key, nameof(AgentOptions.OutboundNetwork), StringComparison.Ordinal) && !bool.TryParse(child.Value, out _))
            {
                errors.Add($"{where}: {child.Path}: '{child.Value}' is not a boolean; write true or false without quotes");
            }
        }

        return errors;
    }

    // A nested section (Agent:Gpu, Agent:Storage): known keys only, single values, whole numbers where the type needs one.
    private static void CheckSection(
        IConfigurationSection section,
        string[] keys,
        string[] integerKeys,
        string example,
        IConfiguration? file,
        ConfigSource source,
        List<string> errors)
    {
        if (!section.GetChildren().Any() && !string.IsNullOrEmpty(section.Value))
        {
            errors.Add($"{WhereFrom(file, section.Path, source)}: {section.Path}: must be an object, like {example}");
            return;
        }

        var known = string.Join(", ", keys);
        foreach (var child in section.GetChildren())
        {
            var where = WhereFrom(file, child.Path, source);
            var key = keys.FirstOrDefault(k => string.Equals(k, child.Key, StringComparison.OrdinalIgnoreCase));
            if (key is null)
            {
                errors.Add($"{where}: {child.Path}: unknown key; known keys are {known}");
            }
            else if (child.GetChildren().Any())
            {
                errors.Add($"{where}: {child.Path}: must be a single value, not an object or array");
            }
            else if (integerKeys.Contains(key) && !long.TryParse(child.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
            {
                errors.Add($"{where}: {child.Path}: '{child.Value}' is not a whole number; write a number without quotes or units");
            }
        }
    }

    private static string WhereFrom(IConfiguration? file, string path, ConfigSource source)
        => file is not null && file.GetSection(path).Exists() ? source.Name : "command line";
}
