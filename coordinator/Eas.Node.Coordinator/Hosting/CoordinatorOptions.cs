namespace Eas.Node.Coordinator.Hosting;

/// <summary>The <c>Coordinator</c> section of the coordinator's configuration.</summary>
public sealed class CoordinatorOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "Coordinator";

    /// <summary>The gRPC listen URL (HTTP/2 without TLS), for easctl, agents and gateways.</summary>
    public string Listen { get; set; } = "http://127.0.0.1:9090";

    /// <summary>The folder that holds <c>coordinator.db</c>.</summary>
    public string DataDir { get; set; } = "/var/lib/eas/coordinator";

    /// <summary>Run a gateway inside the coordinator process.</summary>
    public bool EmbeddedGateway { get; set; } = true;

    /// <summary>The embedded gateway's HTTP listen URL.</summary>
    public string GatewayListen { get; set; } = "http://127.0.0.1:8080";

    /// <summary>The URL users call; service endpoints are <c>&lt;PublicEndpoint&gt;/api/predict/&lt;name&gt;</c>. Empty means <see cref="GatewayListen"/>.</summary>
    public string PublicEndpoint { get; set; } = "";

    /// <summary>Seconds without a heartbeat after which a node is Down.</summary>
    public int NodeGraceSeconds { get; set; } = 10;

    /// <summary>The heartbeat interval agents are told to use.</summary>
    public int HeartbeatSeconds { get; set; } = 2;

    /// <summary>
    /// Seconds between taking a removed instance out of the gateways and telling its agent to stop it, so
    /// that no gateway sends a new request to an instance that is being signalled.
    /// </summary>
    public int DeregistrationDelaySeconds { get; set; } = 2;

    /// <summary>
    /// Seconds a new instance of a rollout may take to become Ready; past it the rollout pauses with the
    /// old version still serving (a failure, or 3 restarts before its first Ready, pause it sooner).
    /// </summary>
    public int RolloutProgressDeadlineSeconds { get; set; } = 120;

    /// <summary>
    /// Where the Prometheus endpoint <c>GET /metrics</c> listens (the coordinator's metrics and the embedded gateway's):
    /// <c>http://host:port</c> URLs separated by <c>;</c>, on a listener of its own; empty turns it off.
    /// </summary>
    public string MetricsListen { get; set; } = "http://127.0.0.1:9190";

    /// <summary>The largest request body the embedded gateway accepts (413 above it).</summary>
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Where call records (spec <c>sinker</c> type <c>file</c>) live: <c>&lt;service&gt;.jsonl</c> and its rotations. The embedded
    /// gateway writes there and <c>easctl records</c> reads there. Empty means <c>&lt;DataDir&gt;/records</c>.
    /// </summary>
    public string RecordsDirectory { get; set; } = "";

    /// <summary>
    /// OTLP collector for the embedded gateway's spans (<c>http://host:4318</c>, OTLP/HTTP); empty sends none. The
    /// standalone eas-gateway has <c>Gateway:Tracing:OtlpEndpoint</c> for the same.
    /// </summary>
    public string TracingOtlpEndpoint { get; set; } = "";

    /// <summary>
    /// The embedded gateway's own settings, from the config file's <c>Gateway</c> section (same keys as gateway.json's:
    /// <c>Llm:*</c>, <c>Records:MaxFileBytes</c>, …); the listen URLs, body limit, records folder and OTLP endpoint come
    /// from this section's settings instead. Not bound from the <c>Coordinator</c> section.
    /// </summary>
    internal Eas.Node.Gateway.GatewayOptions EmbeddedGatewaySettings { get; set; } = new() { Name = "embedded" };

    /// <summary><see cref="RecordsDirectory"/>, or <c>&lt;DataDir&gt;/records</c> when it is empty.</summary>
    public string EffectiveRecordsDirectory =>
        string.IsNullOrWhiteSpace(RecordsDirectory) ? Path.Combine(DataDir, "records") : RecordsDirectory;

    /// <summary>The public endpoint with <see cref="GatewayListen"/> as its fallback, without a trailing slash.</summary>
    public string EffectivePublicEndpoint =>
        (string.IsNullOrWhiteSpace(PublicEndpoint) ? GatewayListen : PublicEndpoint).TrimEnd('/');
}
