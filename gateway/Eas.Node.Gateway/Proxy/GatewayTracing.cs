using System.Diagnostics;
using Eas.Node.Gateway.Routing;

namespace Eas.Node.Gateway.Proxy;

/// <summary>
/// The gateway's spans: one server span per forwarded request, a child of the caller's W3C <c>traceparent</c>. The
/// source has listeners only when <c>Gateway:Tracing:OtlpEndpoint</c> is set, and without one no span is started and
/// the caller's <c>traceparent</c>/<c>tracestate</c> reach the instance unchanged. With tracing on, the instance gets
/// the same trace id with the gateway's span as its parent (tracestate unchanged).
/// </summary>
internal static class GatewayTracing
{
    public const string SourceName = "Eas.Node.Gateway";

    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>Starts the span of a forwarded request, or returns null (no cost) when nothing listens.</summary>
    public static Activity? Start(HttpContext context, ServiceEntry service)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var headers = context.Request.Headers;
        ActivityContext.TryParse(headers.TraceParent, headers.TraceState, isRemote: true, out var parent);
        var activity = Source.StartActivity($"{context.Request.Method} /api/predict/{service.Name}", ActivityKind.Server, parent);
        if (activity is not null && activity.IsAllDataRequested)
        {
            activity.SetTag("http.request.method", context.Request.Method);
            activity.SetTag("eas.service", service.Name);
            if (service.Group is { } group)
            {
                activity.SetTag("eas.group", group);
            }
        }

        return activity;
    }

    /// <summary>Ends the span with the instance that answered and the status the caller got.</summary>
    public static void Stop(Activity activity, EndpointState endpoint, int status)
    {
        if (activity.IsAllDataRequested)
        {
            activity.SetTag("eas.instance", endpoint.InstanceId);
            activity.SetTag("server.address", endpoint.Address);
            activity.SetTag("http.response.status_code", status);
            if (status >= 500 || status == StatusResponses.Status499ClientClosed)
            {
                activity.SetStatus(ActivityStatusCode.Error);
            }
        }

        activity.Dispose();
    }
}
