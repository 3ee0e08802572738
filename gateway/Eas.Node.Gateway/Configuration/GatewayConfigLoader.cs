using System.Globalization;
using Eas.Node.Gateway.Llm;

namespace Eas.Node.Gateway.Configuration;

/// <summary>
/// Turns the standalone gateway's command line (<c>--config PATH</c>, <c>--static-routes FILE</c>,
/// <c>--Gateway:Key=value</c> overrides) into validated <see cref="GatewayOptions"/>, or into one message per
/// problem that names where the bad setting came from, the key, the rule and the fix.
/// </summary>
internal static class GatewayConfigLoader
{
    private static readonly string[] _knownKeys =
    [
        "Gateway:Listen",
        "Gateway:Coordinator",
        "Gateway:MaxRequestBodyBytes",
        "Gateway:Name",
        "Gateway:StaticRoutes",
        "Gateway:MetricsListen",
        "Gateway:Tracing:OtlpEndpoint",
        "Gateway:Tracing:OtlpProtocol",
        "Gateway:Records:Directory",
        "Gateway:Records:MaxFileBytes",
        "Gateway:Records:MaxFiles",
        "Gateway:Records:MaxBodyBytes",
        "Gateway:Records:QueueCapacity",
    ];

    public const string Usage =
        """
        usage: eas-gateway [--config PATH] [--static-routes FILE] [--Gateway:Key=value ...]

          --config PATH          JSON file with a "Gateway" section (Listen, Coordinator, MaxRequestBodyBytes, Name, StaticRoutes, MetricsListen, Tracing:OtlpEndpoint, Tracing:OtlpProtocol, Records:Directory, Records:MaxFileBytes, Records:MaxFiles, Records:MaxBodyBytes, Records:QueueCapacity, Llm:* (docs/traffic.md))
          --static-routes FILE   serve the EndpointSnapshot in FILE (protobuf JSON) instead of the coordinator's feed
          --Gateway:Key=value    override one setting, e.g. --Gateway:Listen=http://0.0.0.0:8080
        """;

    /// <summary>Loads the options; on failure <paramref name="problems"/> holds the messages and the result is null.</summary>
    public static GatewayOptions? Load(IReadOnlyList<string> args, out IReadOnlyList<string> problems)
    {
        var errors = new List<string>();
        problems = errors;
        string? configPath = null;
        string? staticRoutes = null;
        var overrides = new List<string>();

        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (TryTakeValue(args, ref i, "--config", out var value, errors))
            {
                configPath = value;
            }
            else if (TryTakeValue(args, ref i, "--static-routes", out value, errors))
            {
                staticRoutes = value;
            }
            else if (arg.StartsWith("--", StringComparison.Ordinal) && arg.Contains(':', StringComparison.Ordinal))
            {
                overrides.Add(arg);
                if (!arg.Contains('=', StringComparison.Ordinal) && i + 1 < args.Count)
                {
                    overrides.Add(args[++i]);
                }
            }
            else if (arg is not ("--config" or "--static-routes"))
            {
                errors.Add($"command line: argument '{arg}' is not known; fix: use --config PATH, --static-routes FILE or --Gateway:Key=value.\n{Usage}");
            }
        }

        if (errors.Count > 0)
        {
            return null;
        }

        var options = new GatewayOptions { MetricsListen = GatewayOptions.DefaultMetricsListen };
        if (configPath is not null)
        {
            var source = $"config file {configPath}";
            if (!File.Exists(configPath))
            {
                errors.Add($"{source}: the file does not exist; fix: correct the --config path.");
                return null;
            }

            IConfiguration fileConfig;
            try
            {
                fileConfig = new ConfigurationBuilder()
                    .AddJsonFile(Path.GetFullPath(configPath), optional: false, reloadOnChange: false)
                    .Build();
            }
            catch (Exception ex) when (ex is FormatException or InvalidDataException or IOException or System.Text.Json.JsonException)
            {
                errors.Add($"{source}: the file is not valid JSON ({ex.Message}); fix: correct the JSON syntax.");
                return null;
            }

            Apply(fileConfig.AsEnumerable(), source, options, errors);
        }

        if (overrides.Count > 0)
        {
            var commandLine = new ConfigurationBuilder().AddCommandLine([.. overrides]).Build();
            Apply(commandLine.AsEnumerable(), "command line", options, errors);
        }

        if (staticRoutes is not null)
        {
            options.StaticRoutes = staticRoutes;
        }

        if (errors.Count > 0)
        {
            return null;
        }

        var where = configPath is null ? "settings" : $"config file {configPath} (with command-line overrides)";
        foreach (var problem in options.Validate())
        {
            errors.Add($"{where}: {problem}");
        }

        if (errors.Count == 0 && options.StaticRoutes is not null)
        {
            try
            {
                _ = Feed.StaticRoutesFeed.Load(options.StaticRoutes);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or Google.Protobuf.InvalidJsonException or Google.Protobuf.InvalidProtocolBufferException or FormatException)
            {
                errors.Add($"static routes file {options.StaticRoutes}: {ex.Message}; fix: write one eas.v1.EndpointSnapshot in protobuf JSON, e.g. {{\"services\":[{{\"name\":\"echo\",\"tokenSha256\":\"<base64 of SHA-256(token)>\",\"endpoints\":[{{\"address\":\"127.0.0.1:8000\"}}]}}]}}.");
            }
        }

        return errors.Count == 0 ? options : null;
    }

    private static bool TryTakeValue(IReadOnlyList<string> args, ref int i, string name, out string? value, List<string> errors)
    {
        value = null;
        var arg = args[i];
        if (arg.StartsWith(name + "=", StringComparison.Ordinal))
        {
            value = arg[(name.Length + 1)..];
            return true;
        }

        if (arg != name)
        {
            return false;
        }

        if (i + 1 >= args.Count)
        {
            errors.Add($"command line: {name} needs a value; fix: {name} PATH.");
            return false;
        }

        value = args[++i];
        return true;
    }

    // A non-negative whole number, or null with an error naming the key (the range is checked by Validate).
    private static long? WholeNumber(string source, string key, string value, List<string> errors)
    {
        if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            return number;
        }

        errors.Add($"{source}: key '{key}' has value '{value}', which is not a whole number; fix: write digits only, for example the default from docs/configuration.md.");
        return null;
    }

    /// <summary>
    /// Applies <c>Gateway:…</c> settings (configuration leaves) to <paramref name="options"/>; a key in
    /// <paramref name="heldElsewhere"/> is refused with the setting that holds it instead (the embedded gateway's case).
    /// </summary>
    internal static void Apply(IEnumerable<KeyValuePair<string, string?>> settings, string source, GatewayOptions options, List<string> errors, IReadOnlyDictionary<string, string>? heldElsewhere = null)
    {
        foreach (var (key, value) in settings)
        {
            // Parent sections come back with a null value; only leaves carry settings.
            if (value is null)
            {
                continue;
            }

            if (heldElsewhere is not null && heldElsewhere.TryGetValue(key, out var instead))
            {
                errors.Add($"{source}: key '{key}' is not set here for the embedded gateway; fix: {instead}.");
                continue;
            }

            if (key.StartsWith(LlmRoutingOptions.SectionName + ":", StringComparison.OrdinalIgnoreCase))
            {
                if (!options.Llm.TrySet(key, value, out var problem))
                {
                    errors.Add($"{source}: {problem}");
                }

                continue;
            }

            var known = Array.Find(_knownKeys, k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase));
            if (known is null)
            {
                errors.Add($"{source}: key '{key}' is not known; the gateway reads only {string.Join(", ", _knownKeys)} and Gateway:Llm:* ({string.Join(", ", LlmRoutingOptions.Keys)}); fix: remove the key or correct its spelling.");
                continue;
            }

            switch (known)
            {
                case "Gateway:Listen":
                    options.Listen = value;
                    break;
                case "Gateway:Coordinator":
                    options.Coordinator = value;
                    break;
                case "Gateway:Name":
                    options.Name = value;
                    break;
                case "Gateway:StaticRoutes":
                    options.StaticRoutes = value;
                    break;
                case "Gateway:MetricsListen":
                    options.MetricsListen = value;
                    break;
                case "Gateway:Tracing:OtlpEndpoint":
                    options.Tracing.OtlpEndpoint = value;
                    break;
                case "Gateway:Tracing:OtlpProtocol":
                    options.Tracing.OtlpProtocol = value;
                    break;
                case "Gateway:Records:Directory":
                    options.Records.Directory = value;
                    break;
                case "Gateway:Records:MaxFileBytes":
                    options.Records.MaxFileBytes = WholeNumber(source, key, value, errors) ?? options.Records.MaxFileBytes;
                    break;
                case "Gateway:Records:MaxFiles":
                    options.Records.MaxFiles = (int)Math.Min(int.MaxValue, WholeNumber(source, key, value, errors) ?? options.Records.MaxFiles);
                    break;
                case "Gateway:Records:MaxBodyBytes":
                    options.Records.MaxBodyBytes = (int)Math.Min(int.MaxValue, WholeNumber(source, key, value, errors) ?? options.Records.MaxBodyBytes);
                    break;
                case "Gateway:Records:QueueCapacity":
                    options.Records.QueueCapacity = (int)Math.Min(int.MaxValue, WholeNumber(source, key, value, errors) ?? options.Records.QueueCapacity);
                    break;
                case "Gateway:MaxRequestBodyBytes":
                    if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes))
                    {
                        options.MaxRequestBodyBytes = bytes;
                    }
                    else
                    {
                        errors.Add($"{source}: key '{key}' has value '{value}', which is not a whole number of bytes; it must be from 1 to {GatewayOptions.MaxRequestBodyBytesCeiling}; fix: set for example 1048576 (1 MiB).");
                    }

                    break;
                default:
                    break;
            }
        }
    }
}
