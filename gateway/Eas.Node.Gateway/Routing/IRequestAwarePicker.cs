namespace Eas.Node.Gateway.Routing;

/// <summary>
/// The seam for routing policies that look at the request itself (ROUTING_POLICY_LLM: prefix-cache affinity, engine
/// load). When one is registered in the gateway's services, <see cref="Proxy.PredictHandler"/> asks it for every
/// request to a service (or a group member) whose effective policy is <see cref="Contracts.V1.RoutingPolicy.Llm"/>,
/// after the token, body-size, service rate and concurrency checks and before the instance limits.
/// </summary>
/// <remarks>
/// The handler then enters the chosen endpoint against max_queue_size and its rate limiter; if the endpoint is full
/// or limited, or the pick has no endpoint, the request falls back to the service's least-requests pick. A picker
/// that reads the body must leave <c>context.Request.Body</c> readable from the start (buffer it). A picker may answer
/// the request itself (for example 429 when its own wait queue is full, 503 with Retry-After): it then writes the
/// response (status 400 or more) and returns no endpoint, and the handler sends nothing more.
/// </remarks>
internal interface IRequestAwarePicker
{
    ValueTask<RequestAwarePick> PickAsync(HttpContext context, ServiceEntry service, CancellationToken cancellationToken);
}

/// <summary>
/// What an <see cref="IRequestAwarePicker"/> chose: an endpoint of the service (null: none, fall back or answered),
/// and optionally a lease the handler disposes when the request ends, however it ends (forwarded, refused by a limit,
/// failed, the caller gone) — for example the LLM router's per-replica in-flight accounting.
/// </summary>
internal readonly record struct RequestAwarePick(EndpointState? Endpoint, IDisposable? Lease = null);

/// <summary>
/// A pick's lease that can move the request to another endpoint when the chosen one refused the connection (before any
/// response byte): the handler asks it instead of the least-requests pick, so the picker's own accounting follows.
/// </summary>
internal interface IRetryablePick
{
    /// <summary>Another endpoint the picker chose, <paramref name="unreachable"/> marking the refused one down; null when none is left.</summary>
    EndpointState? RetryExcluding(bool unreachable);
}
