using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Eas.Node.Spec.Parsing;

namespace Eas.Node.Spec;

/// <summary>One problem found in a spec: where (JSON path), what rule, and how to fix it.</summary>
/// <param name="Path">JSON path such as <c>containers[0].port</c>; <c>$</c> for the whole document.</param>
/// <param name="Message">The rule that was broken, with the offending value.</param>
/// <param name="Fix">What to do about it.</param>
public sealed record SpecDiagnostic(string Path, string Message, string Fix)
{
    /// <inheritdoc />
    public override string ToString() => $"{Path}: {Message}; {Fix}";
}

/// <summary>Options for <see cref="SpecParser.Parse"/>.</summary>
public sealed record SpecParseOptions
{
    /// <summary>Relative <c>host</c> paths resolve against this folder (the spec file's); null leaves them an error.</summary>
    public string? BaseDirectory { get; init; }
}

/// <summary>The outcome of parsing: a spec when there are no errors, and every diagnostic.</summary>
public sealed record SpecParseResult(ServiceSpec? Spec, IReadOnlyList<SpecDiagnostic> Errors, IReadOnlyList<SpecDiagnostic> Warnings)
{
    /// <summary>True when <see cref="Spec"/> is set and there are no errors.</summary>
    public bool IsValid => Spec is not null && Errors.Count == 0;
}

/// <summary>
/// Parses and validates EAS service JSON into a <see cref="ServiceSpec"/>. The rules are those of
/// the service-spec design (SERVICE-SPEC.md): nested and flat dotted keys are the same key (<c>"rpc.keepalive"</c> inside
/// <c>metadata</c>, <c>"metadata.instance"</c> at the top); a top-level <c>name</c> is the legacy
/// <c>metadata.name</c>; every error is reported at once with its JSON path, the rule and a fix;
/// unknown keys and cloud-only keys are warnings; wrong types are errors, never silent defaults.
/// </summary>
public static partial class SpecParser
{
    /// <summary>
    /// Parses <paramref name="json"/>. Never throws: invalid JSON is one error at path <c>$</c> with
    /// the line and column, anything else wrong is an error at the offending value's path.
    /// </summary>
    /// <param name="json">The service JSON, as a user wrote it.</param>
    /// <param name="options">Where relative <c>host</c> storage paths resolve; null for none.</param>
    public static SpecParseResult Parse(string json, SpecParseOptions? options = null)
    {
        options ??= new SpecParseOptions();
        var reader = new SpecReader();
        ServiceSpec? spec = null;
        try
        {
            if (json is null)
            {
                reader.Error(SpecPath.Root, "no spec was given", "pass the service JSON");
            }
            else
            {
                using var document = JsonDocument.Parse(json, SpecJson.DocumentOptions);
                var problems = new List<KeyNormalizer.Problem>();
                var root = KeyNormalizer.Normalize(document.RootElement, SpecPath.Root, problems);
                foreach (var problem in problems)
                {
                    reader.Error(problem.Path, problem.Message, problem.Fix);
                }

                if (root is JsonObject rootObject)
                {
                    spec = ReadSpec(rootObject, reader, options);
                }
                else
                {
                    reader.Error(SpecPath.Root, $"the spec must be a JSON object, got {SpecReader.Describe(root)}", "start from {\"metadata\": {\"name\": \"my_service\"}, \"containers\": [...]}");
                }
            }
        }
        catch (JsonException ex)
        {
            reader.Error(SpecPath.Root, $"not valid JSON at {SpecJson.Describe(ex)}", "fix the JSON syntax there (quotes, commas, brackets)");
        }
        catch (Exception ex)
        {
            // A bug here must not take the API down with a 500; it surfaces as a diagnostic instead.
            reader.Error(SpecPath.Root, $"internal error while reading the spec: {ex.GetType().Name}: {ex.Message}", "report this as a bug in Eas.Node with the spec that caused it");
            spec = null;
        }

        return new SpecParseResult(reader.HasErrors ? null : spec, reader.Errors, reader.Warnings);
    }

    private static ServiceSpec? ReadSpec(JsonObject root, SpecReader reader, SpecParseOptions options)
    {
        var metadata = ReadMetadata(root, reader);
        var router = metadata.Traffic.Type == ServiceTypes.LlmGateway;
        ContainerSpec? container = null;
        if (!router)
        {
            container = ReadContainers(root, reader);
        }
        else if (root.ContainsKey("containers"))
        {
            reader.Warning("containers", "ignored: an LLMGatewayService runs no instances; the gateway itself routes its group's requests",
                "remove containers; deploy the inference engines as Standard services in the same group");
        }

        var storage = ReadStorage(root, reader, options);
        var driverVersion = ReadFeatures(root, reader, metadata.Gpu);
        var token = ReadToken(root, reader);
        var crashBlock = ReadRuntime(root, reader);
        var policy = ReadNetworking(root, reader);
        var sinker = ReadSinker(root, reader);
        reader.OtherKeys(root, SpecPath.Root, "metadata", "name", "containers", "storage", "features", "token", "runtime", "networking", "sinker");

        if (reader.HasErrors || metadata.Name is null || (container is null && !router))
        {
            return null;
        }

        return new ServiceSpec
        {
            Name = metadata.Name,
            Instance = metadata.Instance,
            Cpu = metadata.Cpu,
            MemoryMb = metadata.MemoryMb,
            ShmSizeGb = metadata.ShmSizeGb,
            KeepaliveMs = metadata.KeepaliveMs,
            EnableSigterm = metadata.EnableSigterm,
            TerminationGracePeriodSeconds = metadata.TerminationGracePeriodSeconds,
            RollingStrategy = metadata.RollingStrategy,
            Gpu = metadata.Gpu.Gpu,
            GpuMemoryGb = metadata.Gpu.MemoryGb,
            GpuCorePercentage = metadata.Gpu.CorePercentage,
            GpuModel = metadata.Gpu.Model,
            GpuDriverVersion = driverVersion,
            Container = container,
            Storage = storage,
            Token = token,
            EnableCrashBlock = crashBlock,
            Type = metadata.Traffic.Type,
            Group = metadata.Traffic.Group,
            EnableGrpc = metadata.Traffic.EnableGrpc,
            Routing = metadata.Traffic.Routing,
            RateLimit = (int)(metadata.Rpc.RateLimit ?? 0),
            MaxQueueSize = (int)(metadata.Rpc.MaxQueueSize ?? ServiceSpec.DefaultMaxQueueSize),
            GatewayRateLimit = policy.RateLimit,
            GatewayConcurrencyLimit = policy.ConcurrencyLimit,
            Sinker = sinker,
        };
    }

    private static string? ReadToken(JsonObject root, SpecReader reader)
    {
        // The token is a secret: messages say what is wrong with it, never what it is.
        if (!root.TryGetPropertyValue("token", out var node))
        {
            return null;
        }

        if (SpecReader.Kind(node) != JsonValueKind.String)
        {
            reader.Error("token", $"must be a string, got {SpecReader.Kind(node).ToString().ToLowerInvariant()}", "write the token in quotes, or remove the key to have one generated");
            return null;
        }

        var token = node!.GetValue<string>();
        if (!TokenPattern().IsMatch(token))
        {
            var problem = token.Length is 0 or > 256
                ? $"is {token.Length} characters long"
                : $"has a character outside A-Z a-z 0-9 . _ ~ + / = - at position {Array.FindIndex(token.ToCharArray(), c => !IsTokenChar(c)) + 1}";
            reader.Error("token", $"must be 1 to 256 characters of A-Z a-z 0-9 . _ ~ + / = -; it {problem}", "use another token, or remove the key to have one generated");
            return null;
        }

        return token;
    }

    private static bool IsTokenChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '~' or '+' or '/' or '=' or '-';

    [GeneratedRegex(@"^[A-Za-z0-9._~+/=\-]{1,256}\z")]
    private static partial Regex TokenPattern();
}
