namespace Eas.Node.Gateway.Logging;

/// <summary>The gateway's log events (event ids 4000–4099). Tokens are never logged.</summary>
internal static partial class GatewayLog
{
    [LoggerMessage(EventId = 4000, Level = LogLevel.Information, Message = "Gateway listening on {Urls}; routes from {Source}")]
    public static partial void Started(ILogger logger, string urls, string source);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Routing table revision {Revision} applied: {Services} services, {Endpoints} ready endpoints")]
    public static partial void SnapshotApplied(ILogger logger, long revision, int services, int endpoints);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Endpoint feed failed; retrying in {Backoff}, still serving revision {Revision}")]
    public static partial void FeedFailed(ILogger logger, TimeSpan backoff, long revision, Exception exception);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Information, Message = "Endpoint feed ended; watching again in {Backoff}")]
    public static partial void FeedEnded(ILogger logger, TimeSpan backoff);

    [LoggerMessage(EventId = 4010, Level = LogLevel.Warning, Message = "Service {Service}: endpoint {Address} (instance {Instance}) refused the connection")]
    public static partial void ConnectRefused(ILogger logger, string service, string address, string instance);

    [LoggerMessage(EventId = 4015, Level = LogLevel.Warning, Message = "Service {Service}: endpoint {Address} (instance {Instance}) closed the connection before answering; the request goes to another replica")]
    public static partial void LostBeforeResponse(ILogger logger, string service, string address, string instance, Exception? exception);

    [LoggerMessage(EventId = 4011, Level = LogLevel.Information, Message = "Service {Service}: request to {Address} exceeded its {Keepalive} timeout")]
    public static partial void RequestTimedOut(ILogger logger, string service, string address, TimeSpan keepalive);

    [LoggerMessage(EventId = 4012, Level = LogLevel.Warning, Message = "Service {Service}: forwarding to {Address} failed ({Error})")]
    public static partial void ForwardFailed(ILogger logger, string service, string address, string error, Exception? exception);

    [LoggerMessage(EventId = 4013, Level = LogLevel.Information, Message = "Service {Service}: the caller went away after {ElapsedMs} ms (499); the request to instance {Instance} was cancelled")]
    public static partial void ClientClosed(ILogger logger, string service, string instance, long elapsedMs);

    [LoggerMessage(EventId = 4014, Level = LogLevel.Information, Message = "Gateway spans go to the OTLP endpoint {Endpoint} ({Protocol}); Gateway:Tracing:OtlpEndpoint")]
    public static partial void TracingOn(ILogger logger, string endpoint, string protocol);
}
