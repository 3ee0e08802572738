using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Http.Features;

namespace Eas.Node.Gateway.Records;

/// <summary>
/// What one recorded call keeps while it runs: the first bytes of its request and response bodies. Made by
/// <see cref="CallRecorder.Begin"/> before the call is forwarded (it puts tees on the request body and the response body
/// feature); <see cref="Finish"/> at the very end turns it into a <see cref="CallRecord"/>. Only calls to services with a
/// sinker make one, so other services pay nothing.
/// </summary>
public sealed class CallCapture
{
    private readonly HttpContext _context;
    private readonly long _startTimestamp;
    private readonly DateTimeOffset _time;
    private readonly BodyCapture? _request;
    private readonly BodyCapture? _response;

    internal CallCapture(HttpContext context, int maxBodyBytes, long startTimestamp, TimeProvider timeProvider)
    {
        _context = context;
        _startTimestamp = startTimestamp;
        _time = timeProvider.GetUtcNow() - Stopwatch.GetElapsedTime(startTimestamp);
        if (maxBodyBytes <= 0)
        {
            return;
        }

        // A request that cannot have a body (HTTP/1.1 without Content-Length or Transfer-Encoding, Content-Length 0)
        // needs no tee; its record's request body is empty.
        var request = context.Request;
        if (context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? true)
        {
            _request = new BodyCapture(maxBodyBytes, request.ContentLength);
            request.Body = new RequestBodyTee(request.Body, _request);
        }

        var prior = context.Features.Get<IHttpResponseBodyFeature>();
        if (prior is not null)
        {
            _response = new BodyCapture(maxBodyBytes, declaredLength: null);
            context.Features.Set<IHttpResponseBodyFeature>(new ResponseBodyTee(prior, _response));
        }
    }

    /// <summary>
    /// The record of the call, to hand to <see cref="CallRecorder.TryWrite"/>. Call it once the response is over
    /// (after the forwarder returned and any error answer was written), from the request's own flow.
    /// </summary>
    /// <param name="status">The status the caller got (499 when the caller went away before the response started).</param>
    /// <param name="service">The service that served the call.</param>
    /// <param name="group">Its group, or null.</param>
    /// <param name="instance">The instance that served it, or null when the gateway answered itself.</param>
    /// <param name="node">The node of that instance, or null.</param>
    /// <param name="traceId">
    /// The W3C trace id; null takes it from <see cref="Activity.Current"/> when there is one, else from the request's
    /// <c>traceparent</c> header.
    /// </param>
    /// <param name="spanId">The span the call belongs to; null takes it from the same place as the trace id.</param>
    public CallRecord Finish(int status, string service, string? group = null, string? instance = null, string? node = null, string? traceId = null, string? spanId = null)
    {
        var request = _context.Request;
        var response = _context.Response;
        if (traceId is null)
        {
            (traceId, var parentSpan) = TraceOf(_context);
            spanId ??= parentSpan;
        }

        var requestHeaders = CallRecordHeaders.Snapshot(request.Headers);
        var responseHeaders = CallRecordHeaders.Snapshot(response.Headers);
        return new CallRecord
        {
            Time = _time,
            Service = service,
            Group = group ?? "",
            Instance = instance ?? "",
            Node = node ?? "",
            Method = request.Method,
            Path = request.PathBase.Add(request.Path).Value ?? "",
            Query = request.QueryString.HasValue ? request.QueryString.Value![1..] : "",
            Status = status,
            LatencyMs = Math.Round(Stopwatch.GetElapsedTime(_startTimestamp).TotalMilliseconds, 3),
            TraceId = traceId,
            SpanId = spanId ?? "",
            Client = ClientOf(_context.Connection.RemoteIpAddress),
            Request = _request?.ToMessage(requestHeaders) ?? new CallRecordMessage { Headers = requestHeaders },
            Response = _response?.ToMessage(responseHeaders) ?? new CallRecordMessage { Headers = responseHeaders },
        };
    }

    private static (string TraceId, string SpanId) TraceOf(HttpContext context)
    {
        var activity = Activity.Current;
        if (activity is not null && activity.IdFormat == ActivityIdFormat.W3C && activity.TraceId != default)
        {
            return (activity.TraceId.ToHexString(), activity.SpanId.ToHexString());
        }

        // traceparent: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>
        var header = context.Request.Headers["traceparent"].ToString().AsSpan().Trim();
        if (header.Length >= 55 && header[2] == '-' && header[35] == '-' && header[52] == '-'
            && TraceText.IsHex(header[3..35]) && TraceText.IsHex(header[36..52]) && header[3..35].ContainsAnyExcept('0'))
        {
            return (header[3..35].ToString().ToLowerInvariant(), header[36..52].ToString().ToLowerInvariant());
        }

        return ("", "");
    }

    private static string ClientOf(IPAddress? address)
    {
        if (address is null)
        {
            return "";
        }

        return (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();
    }
}
