using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Eas.Node.Spec.Parsing;

namespace Eas.Node.Spec;

/// <summary>
/// What the gateway does with a service's traffic: <c>metadata.type</c>, <c>group</c>, <c>enable_grpc</c> and
/// <c>routing</c>, <c>networking.gateway_policy</c> limits, and <c>sinker</c> (call records).
/// </summary>
public static partial class SpecParser
{
    /// <summary>The most requests per second a rate limit may name.</summary>
    private const int MaxRate = 1_000_000;

    /// <summary>The most requests in flight per instance <c>rpc.max_queue_size</c> may name.</summary>
    private const int MaxQueue = 100_000;

    /// <summary>The most requests in flight <c>gateway_policy.concurrency_limit</c> may name.</summary>
    private const int MaxConcurrency = 1_000_000;

    /// <summary>The largest <c>sinker.config.max_body_bytes</c>: 16 MiB.</summary>
    private const int MaxSinkerBodyBytes = 16 * 1024 * 1024;

    /// <summary>What <c>metadata</c> said about traffic, with defaults applied.</summary>
    private sealed record TrafficValues(string Type, string? Group, bool EnableGrpc, ServiceRouting Routing);

    /// <summary>What <c>networking.gateway_policy</c> said.</summary>
    private sealed record GatewayPolicyValues(GatewayLimit? RateLimit, GatewayLimit? ConcurrencyLimit);

    private static TrafficValues ReadTraffic(JsonObject metadata, SpecReader reader)
    {
        const string Path = "metadata";
        var type = ReadServiceType(metadata, reader);
        var group = ReadGroup(metadata, reader);
        var grpc = reader.Bool(metadata, Path, "enable_grpc");
        var routing = ReadRouting(metadata, reader);
        if (type == ServiceTypes.LlmGateway && !metadata.ContainsKey("group"))
        {
            reader.Error(SpecPath.Child(Path, "group"), "is required for an LLMGatewayService: it is the LLM router of a service group",
                "add \"group\": \"my_group\" to metadata, the same group as the inference services it routes");
        }

        return new TrafficValues(type ?? ServiceTypes.Standard, group, grpc ?? false, routing ?? ServiceRouting.LeastRequests);
    }

    private static string? ReadServiceType(JsonObject metadata, SpecReader reader)
    {
        if (reader.String(metadata, "metadata", "type") is not { } type)
        {
            return null;
        }

        var path = SpecPath.Child("metadata", "type");
        string[] supported = [ServiceTypes.Standard, ServiceTypes.LlmGateway];
        if (supported.Contains(type, StringComparer.Ordinal))
        {
            return type;
        }

        var sameButCase = supported.FirstOrDefault(t => string.Equals(t, type, StringComparison.OrdinalIgnoreCase));
        if (sameButCase is not null)
        {
            reader.Error(path, $"{SpecReader.Quote(type)} is not a service type; types are case-sensitive", $"write {SpecReader.Quote(sameButCase)}");
        }
        else if (ServiceTypes.Unsupported.FirstOrDefault(t => string.Equals(t, type, StringComparison.OrdinalIgnoreCase)) is { } unsupported)
        {
            reader.Error(path, $"{SpecReader.Quote(unsupported)} services are not supported by Eas.Node; it runs Standard services and LLMGatewayService (the LLM router of a group)",
                "remove metadata.type to deploy a Standard service");
        }
        else
        {
            reader.Error(path, $"{SpecReader.Quote(type)} is not a service type; the types are \"Standard\" (the default) and \"LLMGatewayService\"",
                "remove metadata.type for a Standard service, or write \"LLMGatewayService\" for a group's LLM router");
        }

        return null;
    }

    private static string? ReadGroup(JsonObject metadata, SpecReader reader)
    {
        if (reader.String(metadata, "metadata", "group") is not { } group)
        {
            return null;
        }

        if (!GroupPattern().IsMatch(group))
        {
            reader.Error(SpecPath.Child("metadata", "group"),
                $"{SpecReader.Quote(group)} is not a valid group name: a lowercase letter, then up to 62 lowercase letters, digits and _ (no '.', which separates group and service in /api/predict/<group>.<service>)",
                $"use {SpecReader.Quote(SuggestGroup(group))}");
            return null;
        }

        return group;
    }

    /// <summary>A valid group name close to <paramref name="group"/>.</summary>
    private static string SuggestGroup(string group)
    {
        var text = new StringBuilder();
        foreach (var c in group.ToLowerInvariant())
        {
            text.Append(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) ? c : '_');
        }

        var suggestion = text.ToString().Trim('_');
        if (suggestion.Length == 0 || !char.IsAsciiLetterLower(suggestion[0]))
        {
            suggestion = "g_" + suggestion;
        }

        return suggestion.Length > 63 ? suggestion[..63].TrimEnd('_') : suggestion;
    }

    private static ServiceRouting? ReadRouting(JsonObject metadata, SpecReader reader)
    {
        if (reader.String(metadata, "metadata", "routing") is not { } text)
        {
            return null;
        }

        if (ServiceRoutingNames.Parse(text) is { } routing)
        {
            return routing;
        }

        reader.Error(SpecPath.Child("metadata", "routing"),
            $"{SpecReader.Quote(text)} is not a routing policy; the policies are {string.Join(", ", ServiceRoutingNames.All.Select(n => $"\"{n}\""))}",
            "use \"least_requests\" (the default), \"round_robin\", or \"llm\" for OpenAI-style LLM engines");
        return null;
    }

    private static GatewayPolicyValues ReadNetworking(JsonObject root, SpecReader reader)
    {
        const string Path = "networking";
        if (reader.Object(root, SpecPath.Root, Path) is not { } networking)
        {
            return new GatewayPolicyValues(null, null);
        }

        GatewayLimit? rate = null;
        GatewayLimit? concurrency = null;
        if (reader.Object(networking, Path, "gateway_policy") is { } policy)
        {
            const string PolicyPath = "networking.gateway_policy";
            rate = ReadGatewayLimit(policy, PolicyPath, "rate_limit", "requests per second the whole service takes", MaxRate, 1000);
            concurrency = ReadGatewayLimit(policy, PolicyPath, "concurrency_limit", "requests in flight for the whole service", MaxConcurrency, 100);
            reader.OtherKeys(policy, PolicyPath, "rate_limit", "concurrency_limit");
        }

        reader.OtherKeys(networking, Path, "gateway_policy");
        return new GatewayPolicyValues(rate, concurrency);

        GatewayLimit? ReadGatewayLimit(JsonObject policy, string policyPath, string key, string meaning, int max, int example)
        {
            var rule = $"limit is the {meaning}, 1 to {max} (0 only with enable false); above it the gateway answers 429";
            var fix = $"use e.g. {example}";
            if (reader.Object(policy, policyPath, key) is not { } limitObject)
            {
                return null;
            }

            var path = SpecPath.Child(policyPath, key);
            var enable = reader.Bool(limitObject, path, "enable");
            var limit = reader.Integer(limitObject, path, "limit", 0, max, rule, fix);
            reader.OtherKeys(limitObject, path, "enable", "limit");
            if (!limitObject.ContainsKey("enable"))
            {
                reader.Error(SpecPath.Child(path, "enable"), "is required: true applies the limit, false keeps it off",
                    "add \"enable\": true next to \"limit\"");
                return null;
            }

            if (enable is not { } enabled)
            {
                return null;
            }

            if (enabled && !limitObject.ContainsKey("limit"))
            {
                reader.Error(SpecPath.Child(path, "limit"), "is required when enable is true", $"add \"limit\": {example}, or set enable to false");
                return null;
            }

            if (enabled && limit == 0)
            {
                reader.Error(SpecPath.Child(path, "limit"), "0 with enable true would refuse every request", "give at least 1, or set enable to false to turn the limit off");
                return null;
            }

            return limitObject.ContainsKey("limit") && limit is null ? null : new GatewayLimit(enabled, (int)(limit ?? 0));
        }
    }

    private static SinkerSpec? ReadSinker(JsonObject root, SpecReader reader)
    {
        const string Path = "sinker";
        if (reader.Object(root, SpecPath.Root, Path) is not { } sinker)
        {
            return null;
        }

        if (!reader.Require(sinker, Path, "type", "add \"type\": \"file\" (JSON Lines on the gateway's host) or \"otlp\" (OpenTelemetry logs)"))
        {
            return null;
        }

        if (reader.String(sinker, Path, "type") is not { } type)
        {
            return null;
        }

        var typePath = SpecPath.Child(Path, "type");
        if (SinkerTypes.CloudOnly.Contains(type, StringComparer.Ordinal))
        {
            reader.Warning(typePath, $"{SpecReader.Quote(type)} is an Alibaba Cloud sink, ignored on a self-hosted cluster: no call records are kept",
                "use \"file\" (JSON Lines on the gateway's host) or \"otlp\" with config.endpoint");
            return null;
        }

        if (type is not (SinkerTypes.File or SinkerTypes.Otlp))
        {
            reader.Error(typePath, $"{SpecReader.Quote(type)} is not a sink; the sinks are \"file\" and \"otlp\"",
                "use \"file\" (JSON Lines on the gateway's host) or \"otlp\" (OpenTelemetry logs to config.endpoint)");
            return null;
        }

        var config = reader.Object(sinker, Path, "config");
        reader.OtherKeys(sinker, Path, "type", "config");
        string? endpoint = null;
        long? maxBody = null;
        var ok = !sinker.ContainsKey("config") || config is not null;
        if (config is not null)
        {
            const string ConfigPath = "sinker.config";
            maxBody = reader.Integer(config, ConfigPath, "max_body_bytes", 0, MaxSinkerBodyBytes,
                $"max_body_bytes is how much of each request and response body is kept, 0 (the gateway's default) to {MaxSinkerBodyBytes}",
                "use e.g. 4096");
            ok &= !config.ContainsKey("max_body_bytes") || maxBody is not null;
            if (config.ContainsKey("endpoint") && type == SinkerTypes.File)
            {
                reader.Warning(SpecPath.Child(ConfigPath, "endpoint"), "only read for type \"otlp\"; ignored for \"file\"", "remove it, or set type to \"otlp\"");
            }
            else if (config.ContainsKey("endpoint"))
            {
                endpoint = ReadOtlpEndpoint(config, reader);
                ok &= endpoint is not null;
            }

            reader.OtherKeys(config, ConfigPath, "endpoint", "max_body_bytes");
        }

        // A config of the wrong type has its own error; a missing endpoint is reported only when config could be read.
        if (type == SinkerTypes.Otlp && (config is null ? !sinker.ContainsKey("config") : !config.ContainsKey("endpoint")))
        {
            reader.Error("sinker.config.endpoint", "is required for type \"otlp\": the OTLP/HTTP receiver the records go to",
                "add \"config\": {\"endpoint\": \"http://127.0.0.1:4318\"} (the gateway appends /v1/logs)");
            return null;
        }

        return ok && (type != SinkerTypes.Otlp || endpoint is not null) ? new SinkerSpec(type, endpoint, (int)(maxBody ?? 0)) : null;
    }

    private static string? ReadOtlpEndpoint(JsonObject config, SpecReader reader)
    {
        const string Path = "sinker.config.endpoint";
        const string Fix = "write the receiver's base URL, e.g. http://127.0.0.1:4318 (the gateway appends /v1/logs)";
        if (reader.String(config, "sinker.config", "endpoint") is not { } text)
        {
            return null;
        }

        var value = text.Trim();
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.Host.Length == 0)
        {
            reader.Error(Path, $"{SpecReader.Quote(value)} is not an http:// or https:// URL", Fix);
            return null;
        }

        if (uri.UserInfo.Length > 0)
        {
            // A password in the spec would be shown by every desc; never echo it.
            reader.Error(Path, "must not carry a user name or password", "remove the user:password@ part; the receiver must accept the gateway without it");
            return null;
        }

        if (uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            reader.Error(Path, $"{SpecReader.Quote(value)} has a query or fragment", Fix);
            return null;
        }

        return value;
    }

    [GeneratedRegex(@"^[a-z][a-z0-9_]{0,62}\z")]
    private static partial Regex GroupPattern();
}
