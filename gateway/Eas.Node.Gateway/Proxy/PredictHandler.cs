using System.Diagnostics;
using Eas.Node.Gateway.Logging;
using Eas.Node.Gateway.Metrics;
using Eas.Node.Gateway.Routing;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Forwarder;

namespace Eas.Node.Gateway.Proxy;

/// <summary>
/// The gateway's only middleware: <c>/api/predict/&lt;service&gt;[/sub/path]</c> → look the service up, check the
/// token, pick the least-busy Ready endpoint and forward with YARP's <see cref="IHttpForwarder"/>. Being terminal and
/// the whole pipeline, it skips endpoint routing and every per-request service lookup.
/// </summary>
internal sealed class PredictHandler(
    RouteStore routes,
    IHttpForwarder forwarder,
    HttpMessageInvoker invoker,
    GatewayOptions options,
    TimeProvider timeProvider,
    GatewayMetrics metrics,
    ILogger<PredictHandler> logger)
{
    private readonly ForwardTransformer _transformer = new();
    private readonly DeadlinePool _deadlines = new(timeProvider);
    private readonly long _maxBody = options.MaxRequestBodyBytes;

    public Task InvokeAsync(HttpContext context)
    {
        var start = Stopwatch.GetTimestamp();
        var request = context.Request;
        var path = request.Path.Value;
        if (path is null || !path.StartsWith(ForwardTransformer.PredictPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return Answered(metrics.Unrouted, context, start, StatusResponses.NotFoundPath(context));
        }

        var name = path.AsSpan(ForwardTransformer.PredictPrefix.Length);
        var slash = name.IndexOf('/');
        if (slash >= 0)
        {
            name = name[..slash];
        }

        var table = routes.Current;
        if (name.IsEmpty || !table.TryGet(name, out var service))
        {
            return Answered(metrics.Unrouted, context, start, table.Received ? StatusResponses.UnknownService(context, name) : StatusResponses.NotReady(context));
        }

        var serviceMetrics = service.Metrics ??= metrics.For(service.Name);
        if (!TokenCheck.IsAuthorized(request.Headers.Authorization, service))
        {
            return Answered(serviceMetrics, context, start, StatusResponses.Unauthorized(context));
        }

        // A declared length over the limit is refused before any endpoint is involved (Kestrel holds the body to that
        // length); a chunked body is counted while it streams and cut off past the limit.
        var contentLength = request.ContentLength;
        if (contentLength > _maxBody)
        {
            return Answered(serviceMetrics, context, start, StatusResponses.TooLarge(context));
        }

        if (contentLength is null && request.Headers.ContainsKey(HeaderNames.TransferEncoding))
        {
            LimitedRequestStream.Apply(context, _maxBody);
        }

        var endpoint = service.Pick();
        if (endpoint is null)
        {
            return Answered(serviceMetrics, context, start, StatusResponses.NoUpstream(context));
        }

        // The token is for the gateway, not for the instance.
        request.Headers.Remove(HeaderNames.Authorization);
        return ForwardAsync(context, service, endpoint, serviceMetrics, start);
    }

    // The gateway's own answers are counted once their status is set; their bodies are a few bytes.
    private static Task Answered(GatewayMetrics.ServiceMetrics serviceMetrics, HttpContext context, long start, Task response)
    {
        serviceMetrics.Record(context.Response.StatusCode, start);
        return response;
    }

    private async Task ForwardAsync(HttpContext context, ServiceEntry service, EndpointState endpoint, GatewayMetrics.ServiceMetrics serviceMetrics, long start)
    {
        var deadline = _deadlines.Rent(service.Keepalive);
        serviceMetrics.Enter();
        try
        {
            // One loop instead of a helper per attempt: an async helper would cost a state machine per request.
            var retried = false;
            ForwarderError error;
            while (true)
            {
                endpoint.Enter();
                try
                {
                    error = await forwarder.SendAsync(context, endpoint.DestinationPrefix, invoker, service.RequestConfig, _transformer, deadline.Token);
                }
                finally
                {
                    endpoint.Exit();
                }

                if (error == ForwarderError.None)
                {
                    return;
                }

                if (!IsConnectionRefused(context, error))
                {
                    break;
                }

                GatewayLog.ConnectRefused(logger, service.Name, endpoint.Address, endpoint.InstanceId);
                if (retried)
                {
                    break;
                }

                // Nothing of the request reached the instance, so one other endpoint may take it.
                var other = service.Pick(exclude: endpoint);
                if (other is null || context.Response.HasStarted)
                {
                    break;
                }

                context.Features.Set<IForwarderErrorFeature>(null);
                context.Response.StatusCode = StatusCodes.Status200OK;
                endpoint = other;
                retried = true;
            }

            await ReportAsync(context, service, endpoint, error, deadline);
        }
        finally
        {
            _deadlines.Return(deadline);
            serviceMetrics.Exit();

            // A caller that went away before any response started is counted as nginx does: 499.
            var status = context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? 499 : context.Response.StatusCode;
            serviceMetrics.Record(status, start);
        }
    }

    private Task ReportAsync(HttpContext context, ServiceEntry service, EndpointState endpoint, ForwarderError error, CancellationTokenSource deadline)
    {
        if (context.RequestAborted.IsCancellationRequested)
        {
            // The caller went away; there is nobody to answer.
            return Task.CompletedTask;
        }

        var timedOut = deadline.IsCancellationRequested || error is ForwarderError.RequestTimedOut;
        if (timedOut)
        {
            GatewayLog.RequestTimedOut(logger, service.Name, endpoint.Address, service.Keepalive);
        }
        else
        {
            GatewayLog.ForwardFailed(logger, service.Name, endpoint.Address, error.ToString(), context.Features.Get<IForwarderErrorFeature>()?.Exception);
        }

        if (context.Response.HasStarted)
        {
            // YARP has already reset or aborted the response it was streaming.
            return Task.CompletedTask;
        }

        var status = timedOut ? StatusCodes.Status408RequestTimeout : context.Response.StatusCode;
        if (status < 400)
        {
            status = StatusCodes.Status502BadGateway;
        }

        return StatusResponses.ForStatus(context, status);
    }

    private static bool IsConnectionRefused(HttpContext context, ForwarderError error) =>
        error is ForwarderError.Request
        && context.Features.Get<IForwarderErrorFeature>()?.Exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError };
}
