using System.Text;

namespace Eas.Node.Gateway.Proxy;

/// <summary>The gateway's own answers: EAS status codes with a short plain-text body.</summary>
internal static class StatusResponses
{
    private static readonly byte[] _notFoundBody = "Not Found: the path must be /api/predict/<service>[/sub/path]\n"u8.ToArray();
    private static readonly byte[] _unauthorizedBody = "Authorization failed: missing or wrong token\n"u8.ToArray();
    private static readonly byte[] _noUpstreamBody = "Service Unavailable: no healthy upstream\n"u8.ToArray();
    private static readonly byte[] _timeoutBody = "Request Timeout: the request took longer than the service's rpc.keepalive\n"u8.ToArray();
    private static readonly byte[] _tooLargeBody = "Request Entity Too Large\n"u8.ToArray();
    private static readonly byte[] _badGatewayBody = "Bad Gateway: the service instance could not be reached\n"u8.ToArray();
    private static readonly byte[] _gatewayTimeoutBody = "Gateway Timeout\n"u8.ToArray();
    private static readonly byte[] _badRequestBody = "Bad Request\n"u8.ToArray();

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
