using System.Globalization;

namespace Eas.Node.Gateway;

/// <summary>
/// Settings of the gateway (configuration section <c>Gateway</c>). The standalone <c>eas-gateway</c> reads them from
/// its <c>--config</c> file and command line; the coordinator binds them from its own configuration and hands them to
/// <see cref="GatewayApp.Build(GatewayOptions, Microsoft.Extensions.Logging.ILoggerFactory?)"/>.
/// </summary>
public sealed class GatewayOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string SectionName = "Gateway";

    /// <summary>The largest value <see cref="MaxRequestBodyBytes"/> may take (Kestrel's own ceiling is a long; 2 GiB keeps buffers sane).</summary>
    public const long MaxRequestBodyBytesCeiling = int.MaxValue;

    /// <summary>
    /// Where the gateway listens: one or more <c>http://host:port</c> URLs separated by <c>;</c>. Port 0 picks a free
    /// port (read it back from <c>WebApplication.Urls</c> after start).
    /// </summary>
    public string Listen { get; set; } = "http://127.0.0.1:8080";

    /// <summary>Where <c>eas-gateway</c> serves <c>GET /metrics</c> unless its configuration says otherwise.</summary>
    public const string DefaultMetricsListen = "http://127.0.0.1:9192";

    /// <summary>
    /// Where the Prometheus endpoint <c>GET /metrics</c> listens: <c>http://host:port</c> URLs separated by <c>;</c>, on a
    /// listener of its own (never the one that serves <c>/api/predict</c>); empty serves no metrics. A gateway built in
    /// code serves none unless asked; the standalone <c>eas-gateway</c> defaults to <see cref="DefaultMetricsListen"/>.
    /// </summary>
    public string MetricsListen { get; set; } = "";

    /// <summary>The coordinator whose <c>eas.v1.Endpoints/Watch</c> feed fills the routing table.</summary>
    public string Coordinator { get; set; } = "http://127.0.0.1:9090";

    /// <summary>Largest request body forwarded; bigger bodies get 413, whether sent with Content-Length or chunked.</summary>
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>The gateway's name, sent to the coordinator when it watches the endpoint feed.</summary>
    public string Name { get; set; } = Environment.MachineName;

    /// <summary>
    /// Optional JSON file with one <c>eas.v1.EndpointSnapshot</c> in protobuf JSON form. When set, the gateway serves
    /// that fixed table and does not contact the coordinator (benchmarks, offline use).
    /// </summary>
    public string? StaticRoutes { get; set; }

    /// <summary>LLM-aware routing settings (section <c>Gateway:Llm</c>), used by services and groups that route by LLM.</summary>
    public Llm.LlmRoutingOptions Llm { get; set; } = new();

    /// <summary>Where and how call records (a service's <c>sinker</c>) are kept (section <c>Gateway:Records</c>).</summary>
    public Records.CallRecordOptions Records { get; set; } = new();

    /// <summary>Gateway spans over OTLP (section <c>Gateway:Tracing</c>); off unless an endpoint is set.</summary>
    public GatewayTracingOptions Tracing { get; set; } = new();

    /// <summary>
    /// Checks every option and returns one message per problem, each naming the key, the rule and the fix; an empty
    /// list means the options are usable.
    /// </summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(Listen))
        {
            problems.Add("Gateway:Listen is empty: it must be one or more http://host:port URLs separated by ';'; fix: set for example \"http://127.0.0.1:8080\".");
        }
        else
        {
            foreach (var url in SplitListen(Listen))
            {
                if (!IsListenUrl(url))
                {
                    problems.Add($"Gateway:Listen '{url}' is not valid: each entry must be http://host:port with a port from 0 to 65535 (https is not served by the gateway; terminate TLS in front of it); fix: set for example \"http://0.0.0.0:8080\".");
                }
            }
        }

        foreach (var url in SplitListen(MetricsListen ?? ""))
        {
            if (!IsListenUrl(url))
            {
                problems.Add($"Gateway:MetricsListen '{url}' is not valid: each entry must be http://host:port with a port from 0 to 65535; fix: set for example \"{DefaultMetricsListen}\", or \"\" to serve no metrics.");
            }
        }

        if (!Uri.TryCreate(Coordinator, UriKind.Absolute, out var coordinator)
            || (coordinator.Scheme != Uri.UriSchemeHttp && coordinator.Scheme != Uri.UriSchemeHttps))
        {
            problems.Add($"Gateway:Coordinator '{Coordinator}' is not valid: it must be an absolute http:// or https:// URL of the coordinator's gRPC port; fix: set for example \"http://127.0.0.1:9090\".");
        }

        if (MaxRequestBodyBytes < 1 || MaxRequestBodyBytes > MaxRequestBodyBytesCeiling)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"Gateway:MaxRequestBodyBytes {MaxRequestBodyBytes} is out of range: it must be from 1 to {MaxRequestBodyBytesCeiling} bytes; fix: set for example 1048576 (1 MiB)."));
        }

        if (string.IsNullOrWhiteSpace(Name))
        {
            problems.Add("Gateway:Name is empty: the coordinator shows it in its log; fix: set a name such as the host name, or leave the key out.");
        }

        if (StaticRoutes is not null && !File.Exists(StaticRoutes))
        {
            problems.Add($"Gateway:StaticRoutes '{StaticRoutes}' does not exist: it must name a readable JSON file holding one EndpointSnapshot; fix: correct the path or leave the key out to use the coordinator's feed.");
        }

        if (Records is not null)
        {
            problems.AddRange(Records.Validate());
        }

        if (Llm is not null)
        {
            problems.AddRange(Llm.Validate());
        }

        var otlp = Tracing?.OtlpEndpoint;
        if (!string.IsNullOrWhiteSpace(otlp)
            && (!Uri.TryCreate(otlp, UriKind.Absolute, out var otlpUri) || (otlpUri.Scheme != Uri.UriSchemeHttp && otlpUri.Scheme != Uri.UriSchemeHttps)))
        {
            problems.Add($"Gateway:Tracing:OtlpEndpoint '{otlp}' is not valid: it must be the absolute http:// or https:// URL of an OTLP collector; fix: set for example \"http://127.0.0.1:4318\" (OTLP/HTTP) or leave it empty to send no spans.");
        }

        var protocol = Tracing?.OtlpProtocol;
        if (protocol is not null && protocol is not (GatewayTracingOptions.HttpProtobuf or GatewayTracingOptions.Grpc))
        {
            problems.Add($"Gateway:Tracing:OtlpProtocol '{protocol}' is not known: it must be \"{GatewayTracingOptions.HttpProtobuf}\" (OTLP/HTTP, port 4318, /v1/traces is appended) or \"{GatewayTracingOptions.Grpc}\" (OTLP/gRPC, port 4317); fix: set one of them or leave the key out.");
        }

        return problems;
    }

    internal static string[] SplitListen(string listen) =>
        listen.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static bool IsListenUrl(string url)
    {
        const string Scheme = "http://";
        if (!url.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        // Kestrel accepts hosts that System.Uri rejects (such as "*" and "+"), so only the port is parsed strictly.
        var hostPort = url.AsSpan(Scheme.Length).TrimEnd('/');
        var colon = hostPort.LastIndexOf(':');
        return colon > 0
            && int.TryParse(hostPort[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            && port <= 65535;
    }
}

/// <summary>Settings of the gateway's spans (configuration section <c>Gateway:Tracing</c>).</summary>
public sealed class GatewayTracingOptions
{
    /// <summary>OTLP over HTTP with protobuf bodies; the gateway posts to <c>&lt;endpoint&gt;/v1/traces</c>.</summary>
    public const string HttpProtobuf = "http/protobuf";

    /// <summary>OTLP over gRPC.</summary>
    public const string Grpc = "grpc";

    /// <summary>
    /// Where spans go, e.g. <c>http://127.0.0.1:4318</c>; empty (the default) starts no spans at all, and the caller's
    /// <c>traceparent</c> reaches the instance unchanged.
    /// </summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary><see cref="HttpProtobuf"/> (default) or <see cref="Grpc"/>.</summary>
    public string OtlpProtocol { get; set; } = HttpProtobuf;
}
