using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Eas.Node.Spec.Parsing;

namespace Eas.Node.Spec;

public static partial class SpecParser
{
    /// <summary>What <c>metadata</c> (and the legacy top-level <c>name</c>) said, with defaults applied.</summary>
    private sealed record MetadataValues(
        string? Name,
        int Instance,
        double Cpu,
        int MemoryMb,
        double? ShmSizeGb,
        int KeepaliveMs,
        bool EnableSigterm,
        int TerminationGracePeriodSeconds,
        RollingStrategy RollingStrategy,
        GpuValues Gpu,
        RpcValues Rpc,
        TrafficValues Traffic);

    /// <summary>What <c>metadata.rpc</c> said; null where it said nothing (or something wrong).</summary>
    private sealed record RpcValues(long? KeepaliveMs, bool? EnableSigterm, long? RateLimit, long? MaxQueueSize);

    private static MetadataValues ReadMetadata(JsonObject root, SpecReader reader)
    {
        const string Path = "metadata";
        var metadata = reader.Object(root, SpecPath.Root, Path) ?? new JsonObject();
        var name = ReadName(root, metadata, reader);

        var instance = reader.Integer(metadata, Path, "instance", 0, 1000,
            "instance is the replica count, 0 to 1000", "use e.g. 2; 0 keeps the service with no running instance");
        var cpu = reader.Number(metadata, Path, "cpu", 0, 512,
            "cpu is cores per instance, more than 0 and at most 512", "use e.g. 1 or 0.5");
        if (cpu is > 0 and < 0.001)
        {
            reader.Error(SpecPath.Child(Path, "cpu"), $"{cpu} is below one millicore (0.001)", "use at least 0.001, e.g. 0.1");
            cpu = null;
        }

        var memory = reader.Integer(metadata, Path, "memory", 1, 16 * 1024 * 1024,
            "memory is MB per instance, 1 to 16777216", "use e.g. 1024 for 1 GB");
        var shm = reader.Number(metadata, Path, "shm_size", 0, 1024,
            "shm_size is the /dev/shm size in GB, more than 0 and at most 1024", "use e.g. 1, or remove it for the default 64 MiB");

        var gpu = ReadGpu(metadata, reader);
        var rpc = ReadRpc(metadata, reader);
        var grace = ReadEas(metadata, reader);
        var rolling = ReadRollingStrategy(metadata, reader);
        var traffic = ReadTraffic(metadata, reader);
        if (traffic.Type == ServiceTypes.LlmGateway)
        {
            if (instance is > 0)
            {
                reader.Warning(SpecPath.Child(Path, "instance"), $"{instance} is ignored: an LLMGatewayService runs no instances here; the gateway itself routes its group's requests",
                    "remove metadata.instance (an LLMGatewayService always has 0)");
            }

            instance = 0;
        }

        reader.OtherKeys(metadata, Path, "name", "instance", "cpu", "memory", "gpu", "gpu_memory", "gpu_core_percentage", "gpu_model", "shm_size", "rpc", "eas", "rolling_strategy",
            "type", "group", "enable_grpc", "routing");
        return new MetadataValues(
            name,
            (int)(instance ?? 1),
            cpu ?? 1,
            (int)(memory ?? 1024),
            shm,
            (int)(rpc.KeepaliveMs ?? 5000),
            rpc.EnableSigterm ?? false,
            (int)(grace ?? 30),
            rolling,
            gpu,
            rpc,
            traffic);
    }

    private static RpcValues ReadRpc(JsonObject metadata, SpecReader reader)
    {
        const string Path = "metadata.rpc";
        if (reader.Object(metadata, "metadata", "rpc") is not { } rpc)
        {
            return new RpcValues(null, null, null, null);
        }

        var keepalive = reader.Integer(rpc, Path, "keepalive", 1, 3_600_000,
            "keepalive is the per-request timeout in ms, 1 to 3600000", "use e.g. 5000 (the default) or 60000 for slow models");
        var sigterm = reader.Bool(rpc, Path, "enable_sigterm");
        var rateLimit = reader.Integer(rpc, Path, "rate_limit", 0, MaxRate,
            $"rate_limit is the requests per second each instance takes, 0 (no limit) to {MaxRate}; above it the gateway answers 429",
            "use e.g. 20, or 0 for no limit");
        var queue = reader.Integer(rpc, Path, "max_queue_size", 1, MaxQueue,
            $"max_queue_size is the requests in flight per instance, 1 to {MaxQueue}; when every Ready instance is full the gateway answers 450",
            $"use e.g. {ServiceSpec.DefaultMaxQueueSize} (the default)");
        reader.OtherKeys(rpc, Path, "keepalive", "enable_sigterm", "rate_limit", "max_queue_size");
        return new RpcValues(keepalive, sigterm, rateLimit, queue);
    }

    private static long? ReadEas(JsonObject metadata, SpecReader reader)
    {
        const string Path = "metadata.eas";
        if (reader.Object(metadata, "metadata", "eas") is not { } eas)
        {
            return null;
        }

        var grace = reader.Integer(eas, Path, "termination_grace_period", 0, 3600,
            "termination_grace_period is the drain time in seconds, 0 to 3600", "use e.g. 30 (the default)");
        reader.OtherKeys(eas, Path, "termination_grace_period");
        return grace;
    }

    private static RollingStrategy ReadRollingStrategy(JsonObject metadata, SpecReader reader)
    {
        const string Path = "metadata.rolling_strategy";
        if (reader.Object(metadata, "metadata", "rolling_strategy") is not { } strategy)
        {
            return RollingStrategy.Default;
        }

        var surge = ReadRolloutAmount(strategy, Path, "max_surge", "extra instances created at a time during an update", "use e.g. 1 or \"25%\"", reader);
        var unavailable = ReadRolloutAmount(strategy, Path, "max_unavailable", "instances that may be unavailable during an update", "use e.g. 0 or \"25%\"", reader);
        reader.OtherKeys(strategy, Path, "max_surge", "max_unavailable");
        if (surge is { Value: 0 } && unavailable is { Value: 0 })
        {
            reader.Error(SpecPath.Child(Path, "max_surge"), "max_surge and max_unavailable are both 0, so an update could never replace an instance",
                "set max_surge to at least 1 (new instances first) or max_unavailable to at least 1 (old instances stop first)");
        }

        return new RollingStrategy(surge, unavailable);
    }

    /// <summary>A whole number 0–1000 or a percentage "0%"–"100%".</summary>
    private static RolloutAmount? ReadRolloutAmount(JsonObject strategy, string path, string key, string meaning, string fix, SpecReader reader)
    {
        if (!strategy.TryGetPropertyValue(key, out var node))
        {
            return null;
        }

        var keyPath = SpecPath.Child(path, key);
        var rule = $"{key} is the number of {meaning}: a whole number 0 to 1000 or a percentage of the instances from \"0%\" to \"100%\"";
        if (SpecReader.Kind(node) == System.Text.Json.JsonValueKind.String)
        {
            var text = node!.GetValue<string>().Trim();
            if (text.EndsWith('%')
                && int.TryParse(text.AsSpan(0, text.Length - 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var percent)
                && percent <= 100)
            {
                return new RolloutAmount(percent, IsPercent: true);
            }

            reader.Error(keyPath, $"{SpecReader.Quote(text)} is not valid; {rule}", fix);
            return null;
        }

        return reader.Integer(node, keyPath, 0, 1000, rule, fix) is { } count ? new RolloutAmount((int)count, IsPercent: false) : null;
    }

    /// <summary><c>metadata.name</c>, or the legacy top-level <c>name</c>; both given must agree.</summary>
    private static string? ReadName(JsonObject root, JsonObject metadata, SpecReader reader)
    {
        var hasNew = metadata.ContainsKey("name");
        var hasLegacy = root.ContainsKey("name");
        var name = hasNew ? reader.String(metadata, "metadata", "name") : null;
        var legacy = hasLegacy ? reader.String(root, SpecPath.Root, "name") : null;

        if (!hasNew && !hasLegacy)
        {
            reader.Error("metadata.name", "is required", "add \"metadata\": {\"name\": \"my_service\"} (3-63 lowercase letters, digits and _)");
            return null;
        }

        if (name is not null && legacy is not null && !string.Equals(name, legacy, StringComparison.Ordinal))
        {
            reader.Error("name", $"{SpecReader.Quote(legacy)} differs from metadata.name {SpecReader.Quote(name)}; the top-level name is the legacy form of metadata.name",
                "remove the top-level name, or make both the same");
            return null;
        }

        var (value, path) = name is not null ? (name, "metadata.name") : (legacy, "name");
        if (value is not null && !NamePattern().IsMatch(value))
        {
            reader.Error(path, $"{SpecReader.Quote(value)} is not a valid service name: 3-63 characters of lowercase letters, digits and _",
                $"use {SpecReader.Quote(SuggestName(value))}");
            return null;
        }

        return value;
    }

    /// <summary>A valid name close to <paramref name="name"/>, the way the PAI SDK fixes names (lowercase, '-' → '_').</summary>
    private static string SuggestName(string name)
    {
        var text = new StringBuilder();
        foreach (var c in name.ToLowerInvariant())
        {
            text.Append(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) ? c : '_');
        }

        var suggestion = text.ToString().Trim('_');
        if (suggestion.Length == 0)
        {
            return "my_service";
        }

        if (suggestion.Length < 3)
        {
            suggestion += "_svc";
        }

        return suggestion.Length > 63 ? suggestion[..63].TrimEnd('_') : suggestion;
    }

    [GeneratedRegex(@"^[a-z0-9_]{3,63}\z")]
    private static partial Regex NamePattern();
}
