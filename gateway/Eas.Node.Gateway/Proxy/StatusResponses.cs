using System.Text;

namespace Eas.Node.Gateway.Proxy;

/// <summary>The gateway's own answers: EAS status codes with a short plain-text body.</summary>
internal static class StatusResponses
{
    private static readonly byte[] _notFoundBody = "Not Found: the path must be /api/predict/<service>[/sub/path] (or /api/predict/<group>, /api/predict/<group>.<service>; gRPC callers may name the service in an eas-service header instead)\n"u8.ToArray();
    private static readonly byte[] _unauthorizedBody = "Authorization failed: missing or wrong token\n"u8.ToArray();
    private static readonly byte[] _noUpstreamBody = "Service Unavailable: no healthy upstream\n"u8.ToArray();
    private static readonly byte[] _timeoutBody = "Request Timeout: the request took longer than the service's rpc.keepalive\n"u8.ToArray();
    private static readonly byte[] _tooLargeBody = "Request Entity Too Large\n"u8.ToArray();
    private static readonly byte[] _badGatewayBody = "Bad Gateway: the service instance could not be reached\n"u8.ToArray();
    private static readonly byte[] _gatewayTimeoutBody = "Gateway Timeout\n"u8.ToArray();
    private static readonly byte[] _badRequestBody = "Bad Request\n"u8.ToArray();
    private static readonly byte[] _noGroupMemberBody = "Service Unavailable: no member of the group takes group traffic (each is standalone, has weight 0 or has no Ready instance); fix: release a member with --grouping and a weight above 0, or call a member as /api/predict/<group>.<service>\n"u8.ToArray();
    private static readonly byte[] _rateLimitBody = "Too Many Requests: every Ready instance of the service used its metadata.rpc.rate_limit (requests per second per instance); retry later, raise the limit or add instances\n"u8.ToArray();
    private static readonly byte[] _serviceRateLimitBody = "Too Many Requests: the service used its networking.gateway_policy.rate_limit (requests per second for the whole service); retry later or raise the limit\n"u8.ToArray();
    private static readonly byte[] _concurrencyBody = "Too Many Requests: the service has networking.gateway_policy.concurrency_limit requests in flight; retry later or raise the limit\n"u8.ToArray();
    private static readonly byte[] _queueFullBody = "Queue Full: every Ready instance of the service has metadata.rpc.max_queue_size requests in flight; retry (another instance may be free by then), raise the limit or add instances\n"u8.ToArray();

    /// <summary>EAS's status for a full instance queue.</summary>
    public const int Status450QueueFull = 450;

    /// <summary>nginx's (and EAS's) status for a caller that went away before the answer: logged and counted, never sent.</summary>
    public const int Status499ClientClosed = 499;

    public static Task NotFoundPath(HttpContext context) => WriteAsync(context, StatusCodes.Status404NotFound, _notFoundBody);

    public static Task UnknownService(HttpContext context, ReadOnlySpan<char> service) =>
        WriteAsync(context, StatusCodes.Status404NotFound, Encoding.UTF8.GetBytes($"Not Found: service '{service}' does not exist\n"));

    /// <summary>404 with an empty body: what EAS answers while a gateway has no routing table yet.</summary>
    public static Task NotReady(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        context.Response.ContentLength = 0;
        return Task.CompletedTask;
    }

    public static Task Unauthorized(HttpContext context) => WriteAsync(context, StatusCodes.Status401Unauthorized, _unauthorizedBody);

    public static Task NoUpstream(HttpContext context) => WriteAsync(context, StatusCodes.Status503ServiceUnavailable, _noUpstreamBody);

    public static Task NoGroupMember(HttpContext context) => WriteAsync(context, StatusCodes.Status503ServiceUnavailable, _noGroupMemberBody);

    /// <summary>429 or 450 for a request a limit turned away, with a body naming the limit and the field that sets it.</summary>
    public static Task Rejected(HttpContext context, Metrics.RejectReason reason) => reason switch
    {
        Metrics.RejectReason.RateLimit => WriteAsync(context, StatusCodes.Status429TooManyRequests, _rateLimitBody),
        Metrics.RejectReason.ServiceRateLimit => WriteAsync(context, StatusCodes.Status429TooManyRequests, _serviceRateLimitBody),
        Metrics.RejectReason.Concurrency => WriteAsync(context, StatusCodes.Status429TooManyRequests, _concurrencyBody),
        _ => WriteAsync(context, Status450QueueFull, _queueFullBody),
    };

    public static Task TooLarge(HttpContext context) => WriteAsync(context, StatusCodes.Status413PayloadTooLarge, _tooLargeBody);

    /// <summary>Writes the body for a status set by the forwarder, or <paramref name="status"/> itself when given.</summary>
    public static Task ForStatus(HttpContext context, int status)
    {
        var body = status switch
        {
            StatusCodes.Status408RequestTimeout => _timeoutBody,
            StatusCodes.Status413PayloadTooLarge => _tooLargeBody,
            StatusCodes.Status504GatewayTimeout => _gatewayTimeoutBody,
            StatusCodes.Status400BadRequest => _badRequestBody,
            _ => _badGatewayBody,
        };
        return WriteAsync(context, status, body);
    }

    private static Task WriteAsync(HttpContext context, int status, byte[] body)
    {
        var response = context.Response;
        response.Clear();
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, 0, body.Length, context.RequestAborted);
    }
}
