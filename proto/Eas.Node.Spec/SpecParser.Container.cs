using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Eas.Node.Spec.Parsing;

namespace Eas.Node.Spec;

public static partial class SpecParser
{
    /// <summary>Ports the platform keeps for itself (the EAS engine's 8080 and 9090).</summary>
    private static readonly int[] _reservedPorts = [8080, 9090];

    private static ContainerSpec? ReadContainers(JsonObject root, SpecReader reader)
    {
        if (!reader.Require(root, SpecPath.Root, "containers", "add \"containers\": [{\"image\": \"host\", \"script\": \"python3 app.py\", \"port\": 8000}]"))
        {
            return null;
        }

        if (reader.Array(root, SpecPath.Root, "containers") is not { } containers)
        {
            return null;
        }

        if (containers.Count == 0)
        {
            reader.Error("containers", "must have one container, got an empty array", "add {\"image\": \"host\", \"script\": \"python3 app.py\", \"port\": 8000}");
            return null;
        }

        if (containers.Count > 1)
        {
            reader.Error("containers", $"has {containers.Count} containers; Eas.Node runs exactly one container per instance", "keep one container and move the others into services of their own");
        }

        return reader.Object(containers[0], "containers[0]") is { } container ? ReadContainer(container, "containers[0]", reader) : null;
    }

    private static ContainerSpec? ReadContainer(JsonObject container, string path, SpecReader reader)
    {
        var image = ReadImage(container, path, reader);
        var (script, command) = ReadProcess(container, path, reader);
        var port = ReadPort(container, path, reader);
        var env = ReadEnv(container, path, reader);
        var (requirements, requirementsPath) = ReadPrepare(container, path, reader);
        var (startup, readiness, liveness) = ReadProbes(container, path, reader);
        reader.OtherKeys(container, path, ["image", "script", "command", "port", "env", "prepare", .. _probeKeys]);

        if (image is null || port is null || (script is null && command is null))
        {
            return null;
        }

        return new ContainerSpec
        {
            Image = image,
            Script = script,
            Command = command,
            Port = port.Value,
            Env = env,
            PythonRequirements = requirements,
            PythonRequirementsPath = requirementsPath,
            StartupCheck = startup,
            ReadinessCheck = readiness,
            LivenessCheck = liveness,
        };
    }

    private static string? ReadImage(JsonObject container, string path, SpecReader reader)
    {
        if (!reader.Require(container, path, "image", "add \"image\": \"host\" to run on the host environment"))
        {
            return null;
        }

        var imagePath = SpecPath.Child(path, "image");
        var image = reader.String(container, path, "image");
        if (image is null)
        {
            return null;
        }

        if (string.IsNullOrWhiteSpace(image))
        {
            reader.Error(imagePath, "must not be empty", "use \"host\" to run on the host environment");
            return null;
        }

        if (image != ContainerSpec.HostImage)
        {
            // The model keeps OCI references; only the runtime cannot pull them yet.
            reader.Error(imagePath, $"{SpecReader.Quote(image)}: OCI images are not supported yet", "use \"host\" to run on the host environment");
        }

        return image;
    }

    private static (string? Script, IReadOnlyList<string>? Command) ReadProcess(JsonObject container, string path, SpecReader reader)
    {
        var hasScript = container.ContainsKey("script");
        var hasCommand = container.ContainsKey("command");
        if (hasScript && hasCommand)
        {
            reader.Error(path, "has both script and command; exactly one is allowed", "keep script (run by /bin/sh -c) or command (run without a shell), not both");
            return (null, null);
        }

        if (!hasScript && !hasCommand)
        {
            reader.Error(path, "has neither script nor command; exactly one is required",
                "add \"script\": \"python3 /mnt/data/app.py\" (run by /bin/sh -c) or \"command\": [\"python3\", \"app.py\"] (run without a shell)");
            return (null, null);
        }

        return hasScript ? (ReadScript(container, path, reader), null) : (null, ReadCommand(container, path, reader));
    }

    private static string? ReadScript(JsonObject container, string path, SpecReader reader)
    {
        var script = reader.String(container, path, "script");
        if (script is not null && string.IsNullOrWhiteSpace(script))
        {
            reader.Error(SpecPath.Child(path, "script"), "must not be empty", "give the shell script to run, e.g. \"python3 app.py\"");
            return null;
        }

        return script;
    }

    private static IReadOnlyList<string>? ReadCommand(JsonObject container, string path, SpecReader reader)
    {
        var commandPath = SpecPath.Child(path, "command");
        var node = container["command"];
        List<string>? command;
        if (SpecReader.Kind(node) == JsonValueKind.String)
        {
            command = CommandLine.Split(node!.GetValue<string>(), out var problem);
            if (command is null)
            {
                reader.Error(commandPath, problem!, "close the quote or escape the character, or give the command as an array of strings");
                return null;
            }
        }
        else if (node is JsonArray array)
        {
            command = [];
            for (var i = 0; i < array.Count; i++)
            {
                if (reader.String(array[i], SpecPath.Index(commandPath, i)) is { } argument)
                {
                    command.Add(argument);
                }
            }

            if (command.Count != array.Count)
            {
                return null;
            }
        }
        else
        {
            reader.Error(commandPath, $"must be a string or an array of strings, got {SpecReader.Describe(node)}", "write e.g. \"python3 app.py\" or [\"python3\", \"app.py\"]");
            return null;
        }

        if (command.Count == 0 || string.IsNullOrWhiteSpace(command[0]))
        {
            reader.Error(commandPath, "must name a program to run", "write e.g. [\"python3\", \"app.py\"]");
            return null;
        }

        return command;
    }

    private static int? ReadPort(JsonObject container, string path, SpecReader reader)
    {
        if (!reader.Require(container, path, "port", "add \"port\": 8000 (the port the process listens on)"))
        {
            return null;
        }

        var portPath = SpecPath.Child(path, "port");
        var port = reader.Integer(container, path, "port", 1, 65535, "port must be 1 to 65535", "use the port your process listens on, e.g. 8000");
        if (port is { } value && _reservedPorts.Contains((int)value))
        {
            reader.Error(portPath, $"{value} is reserved (8080 and 9090 belong to the platform)", "pick another port such as 8000");
            return null;
        }

        return (int?)port;
    }

    private static IReadOnlyList<EnvVar> ReadEnv(JsonObject container, string path, SpecReader reader)
    {
        var envPath = SpecPath.Child(path, "env");
        if (reader.Array(container, path, "env") is not { } items)
        {
            return [];
        }

        var env = new List<EnvVar>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < items.Count; i++)
        {
            var itemPath = SpecPath.Index(envPath, i);
            if (reader.Object(items[i], itemPath) is not { } item)
            {
                continue;
            }

            var name = reader.Require(item, itemPath, "name", "add \"name\": \"MY_VARIABLE\"") ? reader.String(item, itemPath, "name") : null;
            var value = reader.Require(item, itemPath, "value", "add \"value\": \"...\" (use \"\" for an empty value)") ? EnvValue(item["value"], SpecPath.Child(itemPath, "value"), reader) : null;
            reader.OtherKeys(item, itemPath, "name", "value");

            var namePath = SpecPath.Child(itemPath, "name");
            if (name is not null && !EnvNamePattern().IsMatch(name))
            {
                reader.Error(namePath, $"{SpecReader.Quote(name)} is not a valid variable name: a letter or _ followed by letters, digits and _", "rename it, e.g. MY_SETTING");
            }
            else if (name is not null && seen.TryGetValue(name, out var first))
            {
                reader.Error(namePath, $"{name} is already set by {SpecPath.Index(envPath, first)}", "keep one of the two entries");
            }
            else if (name is not null && value is not null)
            {
                seen[name] = i;
                env.Add(new EnvVar(name, value));
            }
        }

        return env;
    }

    /// <summary>Strings as they are; numbers and booleans as written (<c>1.50</c> stays "1.50"), since env values are text.</summary>
    private static string? EnvValue(JsonNode? node, string path, SpecReader reader)
    {
        switch (SpecReader.Kind(node))
        {
            case JsonValueKind.String:
                return node!.GetValue<string>();
            case JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False:
                return node!.ToJsonString();
            default:
                reader.Error(path, $"must be a string, got {SpecReader.Describe(node)}", "write the value as a string, e.g. \"1\" (use \"\" for an empty value)");
                return null;
        }
    }

    private static (IReadOnlyList<string> Requirements, string? RequirementsPath) ReadPrepare(JsonObject container, string path, SpecReader reader)
    {
        var preparePath = SpecPath.Child(path, "prepare");
        if (reader.Object(container, path, "prepare") is not { } prepare)
        {
            return ([], null);
        }

        var requirements = new List<string>();
        var listPath = SpecPath.Child(preparePath, "pythonRequirements");
        if (reader.Array(prepare, preparePath, "pythonRequirements") is { } list)
        {
            for (var i = 0; i < list.Count; i++)
            {
                var itemPath = SpecPath.Index(listPath, i);
                if (reader.String(list[i], itemPath) is not { } requirement)
                {
                    continue;
                }

                if (string.IsNullOrWhiteSpace(requirement) || requirement.Contains('\n', StringComparison.Ordinal) || requirement.Contains('\r', StringComparison.Ordinal))
                {
                    reader.Error(itemPath, $"{SpecReader.Quote(requirement)} is not a requirement: it must be non-empty and on one line", "write one pip requirement per entry, e.g. \"flask==3.0.3\"");
                    continue;
                }

                requirements.Add(requirement.Trim());
            }
        }

        var requirementsPath = reader.String(prepare, preparePath, "pythonRequirementsPath");
        if (requirementsPath is not null && (!requirementsPath.StartsWith('/') || requirementsPath.Contains('\0', StringComparison.Ordinal)))
        {
            reader.Error(SpecPath.Child(preparePath, "pythonRequirementsPath"), $"{SpecReader.Quote(requirementsPath)} is not an absolute path inside the instance",
                "use the path where the instance sees the file, e.g. /mnt/data/requirements.txt");
            requirementsPath = null;
        }

        reader.OtherKeys(prepare, preparePath, "pythonRequirements", "pythonRequirementsPath");
        return (requirements, requirementsPath);
    }

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*\z")]
    private static partial Regex EnvNamePattern();
}
