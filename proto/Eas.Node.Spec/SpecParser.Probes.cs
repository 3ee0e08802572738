using System.Text.Json;
using System.Text.Json.Nodes;
using Eas.Node.Spec.Parsing;

namespace Eas.Node.Spec;

public static partial class SpecParser
{
    /// <summary>The keys of a container that hold probes; <c>health_check</c> is the older name of <c>readiness_check</c>.</summary>
    private static readonly string[] _probeKeys = ["startup_check", "readiness_check", "liveness_check", "health_check"];

    private static readonly string[] _probeFields =
        [ProbeKinds.HttpGet, ProbeKinds.TcpSocket, ProbeKinds.Exec, "initial_delay_seconds", "period_seconds", "timeout_seconds", "failure_threshold", "success_threshold"];

    /// <summary><c>startup_check</c>, <c>readiness_check</c> (or <c>health_check</c>) and <c>liveness_check</c> of a container.</summary>
    private static (ProbeSpec? Startup, ProbeSpec? Readiness, ProbeSpec? Liveness) ReadProbes(JsonObject container, string path, SpecReader reader)
    {
        var startup = ReadProbe(container, path, "startup_check", reader);
        var liveness = ReadProbe(container, path, "liveness_check", reader);
        var readiness = ReadProbe(container, path, "readiness_check", reader);
        var older = ReadProbe(container, path, "health_check", reader);
        if (container.ContainsKey("health_check") && container.ContainsKey("readiness_check"))
        {
            reader.Error(SpecPath.Child(path, "health_check"), "is the older name of readiness_check, and both are given",
                "keep readiness_check and remove health_check");
        }

        return (startup, readiness ?? older, liveness);
    }

    private static ProbeSpec? ReadProbe(JsonObject container, string containerPath, string key, SpecReader reader)
    {
        if (!container.TryGetPropertyValue(key, out var node))
        {
            return null;
        }

        var path = SpecPath.Child(containerPath, key);
        if (reader.Object(node, path) is not { } probe)
        {
            return null;
        }

        var errors = reader.Errors.Count;
        var kinds = ProbeKinds.All.Where(probe.ContainsKey).ToList();
        if (kinds.Count == 0)
        {
            reader.Error(path, $"has no check; exactly one of {string.Join(", ", ProbeKinds.All)} is required",
                "add e.g. \"http_get\": {\"path\": \"/health\"} (its port defaults to containers[0].port), \"tcp_socket\": {} or \"exec\": {\"command\": [\"cat\", \"/tmp/ready\"]}");
        }
        else if (kinds.Count > 1)
        {
            reader.Error(path, $"has {string.Join(" and ", kinds)}; exactly one check is allowed per probe", $"keep one of {string.Join(", ", kinds)} and remove the others");
        }

        var httpGet = probe.ContainsKey(ProbeKinds.HttpGet) ? ReadHttpGet(probe, path, reader) : null;
        var tcpSocket = probe.ContainsKey(ProbeKinds.TcpSocket) ? ReadTcpSocket(probe, path, reader) : null;
        var exec = probe.ContainsKey(ProbeKinds.Exec) ? ReadExec(probe, path, reader) : null;

        var initialDelay = reader.Integer(probe, path, "initial_delay_seconds", 0, 86400,
            "initial_delay_seconds must be 0 to 86400 (seconds after the container starts before the first check)", "use e.g. 10, or remove it for the default 0");
        var period = reader.Integer(probe, path, "period_seconds", 1, 3600,
            "period_seconds must be 1 to 3600 (seconds between checks)", "use e.g. 5, or remove it for the default 10");
        var timeout = reader.Integer(probe, path, "timeout_seconds", 1, 3600,
            "timeout_seconds must be 1 to 3600 (a check that takes longer fails)", "use e.g. 2, or remove it for the default 1");
        var failureThreshold = reader.Integer(probe, path, "failure_threshold", 1, 10000,
            "failure_threshold must be 1 to 10000 (failed checks in a row before the probe fails)", "use e.g. 3 (the default)");
        var successThreshold = reader.Integer(probe, path, "success_threshold", 1, 10000,
            "success_threshold must be 1 to 10000 (passed checks in a row before a failed probe passes again)", "use e.g. 1 (the default)");
        if (successThreshold is > 1 && key is "startup_check" or "liveness_check")
        {
            // As in Kubernetes: one answer shows the process started, or alive; waiting for more only delays a restart's end.
            reader.Error(SpecPath.Child(path, "success_threshold"), $"{successThreshold} is not allowed; success_threshold must be 1 for {key}",
                "remove success_threshold (it defaults to 1), or use readiness_check for a check that must pass several times");
        }

        reader.OtherKeys(probe, path, _probeFields);
        if (reader.Errors.Count > errors || kinds.Count != 1)
        {
            return null;
        }

        return new ProbeSpec
        {
            HttpGet = httpGet,
            TcpSocket = tcpSocket,
            Exec = exec,
            InitialDelaySeconds = (int)(initialDelay ?? ProbeSpec.DefaultInitialDelaySeconds),
            PeriodSeconds = (int)(period ?? ProbeSpec.DefaultPeriodSeconds),
            TimeoutSeconds = (int)(timeout ?? ProbeSpec.DefaultTimeoutSeconds),
            FailureThreshold = (int)(failureThreshold ?? ProbeSpec.DefaultFailureThreshold),
            SuccessThreshold = (int)(successThreshold ?? ProbeSpec.DefaultSuccessThreshold),
        };
    }

    private static HttpGetProbe? ReadHttpGet(JsonObject probe, string probePath, SpecReader reader)
    {
        var path = SpecPath.Child(probePath, ProbeKinds.HttpGet);
        if (reader.Object(probe, probePath, ProbeKinds.HttpGet) is not { } http)
        {
            return null;
        }

        var errors = reader.Errors.Count;
        var requestPath = http.ContainsKey("path") ? reader.String(http, path, "path") : "/";
        if (requestPath is not null && (!requestPath.StartsWith('/') || requestPath.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
        {
            reader.Error(SpecPath.Child(path, "path"), $"{SpecReader.Quote(requestPath)} is not a request path: it must start with / and have no spaces or control characters",
                "write e.g. \"/health\" (encode a space as %20)");
        }

        var port = ReadProbePort(http, path, reader);
        var scheme = reader.String(http, path, "scheme")?.Trim().ToUpperInvariant() ?? (http.ContainsKey("scheme") ? null : HttpGetProbe.Http);
        if (scheme is not null and not HttpGetProbe.Http and not HttpGetProbe.Https)
        {
            reader.Error(SpecPath.Child(path, "scheme"), $"{SpecReader.Quote(http["scheme"]!.GetValue<string>())} is not a scheme; it must be HTTP or HTTPS",
                "use \"HTTP\" (the default) or \"HTTPS\"");
        }

        reader.OtherKeys(http, path, "path", "port", "scheme");
        return reader.Errors.Count > errors || requestPath is null || scheme is null ? null : new HttpGetProbe(requestPath, port, scheme);
    }

    private static TcpSocketProbe? ReadTcpSocket(JsonObject probe, string probePath, SpecReader reader)
    {
        var path = SpecPath.Child(probePath, ProbeKinds.TcpSocket);
        if (reader.Object(probe, probePath, ProbeKinds.TcpSocket) is not { } tcp)
        {
            return null;
        }

        var errors = reader.Errors.Count;
        var port = ReadProbePort(tcp, path, reader);
        reader.OtherKeys(tcp, path, "port");
        return reader.Errors.Count > errors ? null : new TcpSocketProbe(port);
    }

    private static ExecProbe? ReadExec(JsonObject probe, string probePath, SpecReader reader)
    {
        var path = SpecPath.Child(probePath, ProbeKinds.Exec);
        if (reader.Object(probe, probePath, ProbeKinds.Exec) is not { } exec)
        {
            return null;
        }

        reader.OtherKeys(exec, path, "command");
        if (!reader.Require(exec, path, "command", "add \"command\": [\"cat\", \"/tmp/ready\"] (exit code 0 passes; use [\"sh\", \"-c\", \"...\"] for a shell)"))
        {
            return null;
        }

        var commandPath = SpecPath.Child(path, "command");
        var node = exec["command"];
        if (SpecReader.Kind(node) == JsonValueKind.String)
        {
            reader.Error(commandPath, $"must be an array of strings, got {SpecReader.Describe(node)}",
                $"write it as an array, e.g. [\"sh\", \"-c\", {SpecReader.Quote(node!.GetValue<string>())}]");
            return null;
        }

        if (reader.Array(exec, path, "command") is not { } array)
        {
            return null;
        }

        var command = new List<string>();
        for (var i = 0; i < array.Count; i++)
        {
            if (reader.String(array[i], SpecPath.Index(commandPath, i)) is { } word)
            {
                command.Add(word);
            }
        }

        if (command.Count != array.Count)
        {
            return null;
        }

        if (command.Count == 0 || string.IsNullOrWhiteSpace(command[0]))
        {
            reader.Error(commandPath, "must name a program to run", "write e.g. [\"cat\", \"/tmp/ready\"] or [\"sh\", \"-c\", \"test -f /tmp/ready\"]");
            return null;
        }

        return new ExecProbe(command);
    }

    private static int? ReadProbePort(JsonObject check, string path, SpecReader reader) =>
        (int?)reader.Integer(check, path, "port", 1, 65535, "port must be 1 to 65535", "use the port the check should reach, or remove it to use containers[0].port");

    /// <summary><c>runtime</c>: <c>enable_crash_block</c>; its <c>termination_grace_period</c> is the alias of metadata's, which is the one read.</summary>
    private static bool ReadRuntime(JsonObject root, SpecReader reader)
    {
        const string Path = "runtime";
        if (reader.Object(root, SpecPath.Root, Path) is not { } runtime)
        {
            return false;
        }

        var crashBlock = reader.Bool(runtime, Path, "enable_crash_block");
        if (runtime.ContainsKey("termination_grace_period"))
        {
            reader.Warning(SpecPath.Child(Path, "termination_grace_period"), "is another name of metadata.eas.termination_grace_period, the one Eas.Node reads; ignored",
                "move the value to metadata.eas.termination_grace_period");
        }

        reader.OtherKeys(runtime, Path, "enable_crash_block", "termination_grace_period");
        return crashBlock ?? false;
    }
}
