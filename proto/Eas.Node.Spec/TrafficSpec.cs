namespace Eas.Node.Spec;

/// <summary>The <c>metadata.type</c> values Eas.Node runs.</summary>
public static class ServiceTypes
{
    /// <summary>An ordinary service: containers, instances, its own endpoint (the default).</summary>
    public const string Standard = "Standard";

    /// <summary>
    /// EAS's LLM router. Here it is a marker member of its group (<c>metadata.group</c> is required): it needs no
    /// containers and runs no instances; its presence makes the gateway route the group's endpoint LLM-aware.
    /// </summary>
    public const string LlmGateway = "LLMGatewayService";

    /// <summary>Service types EAS has that Eas.Node does not run: an error, since the service would not behave as written.</summary>
    internal static IReadOnlyList<string> Unsupported { get; } =
        ["Async", "Queue", "LLM", "RAG", "Serverless", "OfflineTask", "SDCluster", "ScalableJob", "ScalableJobService", "AssistantJob"];
}

/// <summary><c>metadata.routing</c> (an Eas.Node extension): how the gateway picks a Ready instance of the service.</summary>
public enum ServiceRouting
{
    /// <summary><c>"least_requests"</c>: the instance with the fewest requests in flight (the default).</summary>
    LeastRequests,

    /// <summary><c>"round_robin"</c>: each instance in turn.</summary>
    RoundRobin,

    /// <summary><c>"llm"</c>: OpenAI-style requests by prefix-cache affinity and engine load.</summary>
    Llm,
}

/// <summary>The JSON spellings of <see cref="ServiceRouting"/>.</summary>
public static class ServiceRoutingNames
{
    /// <summary>Every spelling, in the order messages list them.</summary>
    public static IReadOnlyList<string> All { get; } = ["least_requests", "round_robin", "llm"];

    /// <summary><c>"least_requests"</c>, <c>"round_robin"</c> or <c>"llm"</c>.</summary>
    public static string Name(ServiceRouting routing) => routing switch
    {
        ServiceRouting.RoundRobin => "round_robin",
        ServiceRouting.Llm => "llm",
        _ => "least_requests",
    };

    /// <summary>The routing a spelling names, or null.</summary>
    public static ServiceRouting? Parse(string name) => name switch
    {
        "least_requests" => ServiceRouting.LeastRequests,
        "round_robin" => ServiceRouting.RoundRobin,
        "llm" => ServiceRouting.Llm,
        _ => null,
    };
}

/// <summary>
/// <c>networking.gateway_policy.rate_limit</c> or <c>.concurrency_limit</c>: <c>{enable, limit}</c>.
/// </summary>
/// <param name="Enable">True when the gateway applies the limit.</param>
/// <param name="Limit">Requests per second (rate) or requests in flight (concurrency) for the whole service; at least 1 when enabled.</param>
public sealed record GatewayLimit(bool Enable, int Limit)
{
    /// <summary>The limit the gateway applies: <see cref="Limit"/> when enabled, else 0 (none).</summary>
    public int Effective => Enable ? Limit : 0;
}

/// <summary>The <c>sinker.type</c> values Eas.Node writes call records to.</summary>
public static class SinkerTypes
{
    /// <summary>A rotating JSON Lines file on the gateway's host.</summary>
    public const string File = "file";

    /// <summary>OpenTelemetry logs over OTLP/HTTP to <c>sinker.config.endpoint</c>.</summary>
    public const string Otlp = "otlp";

    /// <summary>EAS's cloud sinks: accepted with a warning and ignored.</summary>
    internal static IReadOnlyList<string> CloudOnly { get; } = ["maxcompute", "sls"];
}

/// <summary><c>sinker</c>: the call records the gateway keeps of the service (EAS's request/response sink).</summary>
/// <param name="Type"><see cref="SinkerTypes.File"/> or <see cref="SinkerTypes.Otlp"/>.</param>
/// <param name="Endpoint"><c>config.endpoint</c>: the OTLP/HTTP base URL (http or https, no user or password); only for otlp.</param>
/// <param name="MaxBodyBytes"><c>config.max_body_bytes</c>: request and response bodies are kept up to this many bytes each; 0 for the gateway's default.</param>
public sealed record SinkerSpec(string Type, string? Endpoint, int MaxBodyBytes);
