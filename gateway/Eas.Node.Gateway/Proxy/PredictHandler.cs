using System.Diagnostics;
using Eas.Node.Contracts.V1;
using Eas.Node.Gateway.Logging;
using Eas.Node.Gateway.Metrics;
using Eas.Node.Gateway.Records;
using Eas.Node.Gateway.Routing;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Forwarder;

namespace Eas.Node.Gateway.Proxy;

/// <summary>
/// The gateway's only middleware: <c>/api/predict/&lt;name&gt;[/sub/path]</c> → resolve the service or group, check the
/// token, pick a group member, apply the service's limits, pick a Ready endpoint by the routing policy and forward
/// with YARP's <see cref="IHttpForwarder"/>. Being terminal and the whole pipeline, it skips endpoint routing and
/// every per-request service lookup.
/// </summary>
/// <remarks>
/// Order of checks: 404 unknown name → 401 token → 413 declared length → (group) member by weight, 503 when none →
/// 503 no Ready endpoint → 429 service rate limit → 429 concurrency limit → 450 every instance's queue full → 429
/// every instance's rate limit → forward. Every request ends in <see cref="Answered"/> (the gateway's own answers) or
/// in the <c>finally</c> of <see cref="ForwardAsync"/> (forwarded ones): the two places where a call is complete with
/// its service, instance, status and latency (metrics; the call-record hook belongs there too).
/// </remarks>
internal sealed class PredictHandler(
    RouteStore routes,
    IHttpForwarder forwarder,
    HttpMessageInvoker invoker,
    GatewayOptions options,
    TimeProvider timeProvider,
    GatewayMetrics metrics,
    ILogger<PredictHandler> logger,
    CallRecorder recorder,
    IRequestAwarePicker? requestAwarePicker = null)
{
    /// <summary>
    /// Names the service (or group, or group.service) of a request whose path is not under <c>/api/predict/</c>:
    /// gRPC clients call <c>/package.Service/Method</c> at the root and cannot add a base path, so they send this
    /// header (gRPC metadata) instead; the path then goes to the instance unchanged.
    /// </summary>
    public const string ServiceHeader = "eas-service";

    private readonly ForwardTransformer _transformer = new();
    private readonly DeadlinePool _deadlines = new(timeProvider);
    private readonly long _maxBody = options.MaxRequestBodyBytes;

    public Task InvokeAsync(HttpContext context)
    {
        var start = Stopwatch.GetTimestamp();
        var request = context.Request;
        var path = request.Path.Value;
        ReadOnlySpan<char> name;
        if (path is not null && path.StartsWith(ForwardTransformer.PredictPrefix, StringComparison.OrdinalIgnoreCase))
        {
            name = path.AsSpan(ForwardTransformer.PredictPrefix.Length);
            var slash = name.IndexOf('/');
            if (slash >= 0)
            {
                name = name[..slash];
            }
        }
        else if (request.Headers.TryGetValue(ServiceHeader, out var named) && named.Count == 1 && !string.IsNullOrWhiteSpace(named[0]))
        {
            name = named[0].AsSpan().Trim();
        }
        else
        {
            return Answered(metrics.Unrouted, context, start, StatusResponses.NotFoundPath(context));
        }

        var table = routes.Current;
        if (name.IsEmpty || !table.TryResolve(name, out var service, out var group))
        {
            return Answered(metrics.Unrouted, context, start, table.Received ? StatusResponses.UnknownService(context, name) : StatusResponses.NotReady(context));
        }

        RoutingPolicy policy;
        if (group is not null)
        {
            var groupMetrics = group.Metrics ??= metrics.For(group.Name);
            if (!TokenCheck.IsAuthorized(request.Headers.Authorization, group.Tokens))
            {
                return Answered(groupMetrics, context, start, StatusResponses.Unauthorized(context));
            }

            if (request.ContentLength > _maxBody)
            {
                return Answered(groupMetrics, context, start, StatusResponses.TooLarge(context));
            }

            service = group.PickMember();
            if (service is null)
            {
                return Answered(groupMetrics, context, start, StatusResponses.NoGroupMember(context));
            }

            policy = group.PolicyFor(service);
        }
        else
        {
            if (!TokenCheck.IsAuthorized(request.Headers.Authorization, service!.Tokens))
            {
                return Answered(service.Metrics ??= metrics.For(service.Name), context, start, StatusResponses.Unauthorized(context));
            }

            // A declared length over the limit is refused before any endpoint is involved (Kestrel holds the body to
            // that length); a chunked body is counted while it streams and cut off past the limit.
            if (request.ContentLength > _maxBody)
            {
                return Answered(service.Metrics ??= metrics.For(service.Name), context, start, StatusResponses.TooLarge(context));
            }

            policy = service.Routing;
        }

        var serviceMetrics = service.Metrics ??= metrics.For(service.Name);

        // Call records: the bodies are teed (up to the sinker's size) as they pass; nothing is buffered or delayed.
        if (service.Sinker is { } sinker)
        {
            context.Features.Set(recorder.Begin(context, sinker, start));
        }
        if (request.ContentLength is null && request.Headers.ContainsKey(HeaderNames.TransferEncoding))
        {
            LimitedRequestStream.Apply(context, _maxBody);
        }

        if (service.Endpoints.Length == 0)
        {
            var answer = Answered(serviceMetrics, context, start, StatusResponses.NoUpstream(context));
            Record(context, service, endpoint: null, context.Response.StatusCode);
            return answer;
        }

        if (service.Shared.RateLimiter is { } serviceLimiter && !serviceLimiter.TryAcquire())
        {
            return Rejected(serviceMetrics, context, start, RejectReason.ServiceRateLimit, service);
        }

        var concurrencyLimit = service.ConcurrencyLimit;
        var counted = false;
        if (concurrencyLimit > 0)
        {
            if (!service.Shared.TryEnter(concurrencyLimit))
            {
                return Rejected(serviceMetrics, context, start, RejectReason.Concurrency, service);
            }

            counted = true;
        }

        // The token is for the gateway, not for the instance.
        request.Headers.Remove(HeaderNames.Authorization);

        // Seam for request-aware routing (Llm/): asked first; least-requests when it has no answer.
        if (policy == RoutingPolicy.Llm && requestAwarePicker is not null)
        {
            return PickAndForwardAsync(context, service, serviceMetrics, start, counted);
        }

        var endpoint = Acquire(service, policy, exclude: null, out var reason);
        if (endpoint is null)
        {
            if (counted)
            {
                service.Shared.Exit();
            }

            return Rejected(serviceMetrics, context, start, reason, service);
        }

        return ForwardAsync(context, service, policy, endpoint, serviceMetrics, start, counted);
    }

    /// <summary>
    /// Picks an endpoint by <paramref name="policy"/> and enters it: its in-flight count below max_queue_size (exact
    /// under concurrency) and, with metadata.rpc.rate_limit, a token from its limiter. A limited endpoint hands the
    /// request to any other endpoint that has room and a token. Null with the reason when none can take it.
    /// </summary>
    private static EndpointState? Acquire(ServiceEntry service, RoutingPolicy policy, EndpointState? exclude, out RejectReason reason)
    {
        var max = service.MaxQueueSize;
        for (var attempt = 0; attempt <= service.Endpoints.Length; attempt++)
        {
            var endpoint = service.Pick(policy, exclude);
            if (endpoint is null)
            {
                break;
            }

            // Another request took the last slot between the pick and here: pick again.
            if (!endpoint.TryEnter(max))
            {
                continue;
            }

            if (endpoint.RateLimiter is not { } limiter || limiter.TryAcquire())
            {
                reason = default;
                return endpoint;
            }

            endpoint.Exit();
            return AcquireOther(service, endpoint, exclude, out reason);
        }

        reason = RejectReason.QueueFull;
        return null;
    }

    // Enters a picked endpoint against max_queue_size and takes a token of its rate limit; null when it has no room.
    private static EndpointState? TryTake(EndpointState? endpoint, ServiceEntry service)
    {
        if (endpoint is null || !endpoint.TryEnter(service.MaxQueueSize))
        {
            return null;
        }

        if (endpoint.RateLimiter is not { } limiter || limiter.TryAcquire())
        {
            return endpoint;
        }

        endpoint.Exit();
        return null;
    }

    private static EndpointState? EnterOrNull(EndpointState? endpoint, int maxQueueSize) =>
        endpoint is not null && endpoint.TryEnter(maxQueueSize) ? endpoint : null;

    /// <summary>The rare path: the picked endpoint is out of tokens, so any other with room and a token takes the request.</summary>
    private static EndpointState? AcquireOther(ServiceEntry service, EndpointState limited, EndpointState? exclude, out RejectReason reason)
    {
        foreach (var endpoint in service.Endpoints)
        {
            if (ReferenceEquals(endpoint, limited) || ReferenceEquals(endpoint, exclude))
            {
                continue;
            }

            if (!endpoint.TryEnter(service.MaxQueueSize))
            {
                continue;
            }

            if (endpoint.RateLimiter is not { } limiter || limiter.TryAcquire())
            {
                reason = default;
                return endpoint;
            }

            endpoint.Exit();
        }

        // The limited endpoint had room, so the rate limit (not the queue) is the reason.
        reason = RejectReason.RateLimit;
        return null;
    }

    // The gateway's own answers are counted once their status is set; their bodies are a few bytes.
    private static Task Answered(GatewayMetrics.ServiceMetrics serviceMetrics, HttpContext context, long start, Task response)
    {
        serviceMetrics.Record(context.Response.StatusCode, start);
        return response;
    }

    private Task Rejected(GatewayMetrics.ServiceMetrics serviceMetrics, HttpContext context, long start, RejectReason reason, ServiceEntry? recorded = null)
    {
        serviceMetrics.Reject(reason);
        var answer = Answered(serviceMetrics, context, start, StatusResponses.Rejected(context, reason));
        if (recorded is not null)
        {
            Record(context, recorded, endpoint: null, context.Response.StatusCode);
        }

        return answer;
    }

    /// <summary>Writes the call record of a request to a service with a sinker (begun in <see cref="InvokeAsync"/>).</summary>
    private void Record(HttpContext context, ServiceEntry service, EndpointState? endpoint, int status, Activity? span = null)
    {
        if (service.Sinker is { } sinker && context.Features.Get<CallCapture>() is { } capture)
        {
            context.Features.Set<CallCapture>(null);

            // The gateway's own span (tracing on) is the call's trace; else the caller's traceparent, if any.
            var record = capture.Finish(status, service.Name, service.Group, endpoint?.InstanceId, endpoint?.Node, span?.TraceId.ToHexString(), span?.SpanId.ToHexString());
            recorder.TryWrite(record, sinker);
        }
    }

    private async Task PickAndForwardAsync(HttpContext context, ServiceEntry service, GatewayMetrics.ServiceMetrics serviceMetrics, long start, bool counted)
    {
        EndpointState? endpoint = null;
        IDisposable? lease = null;
        var reason = RejectReason.QueueFull;
        try
        {
            var pick = await requestAwarePicker!.PickAsync(context, service, context.RequestAborted);
            lease = pick.Lease;
            var chosen = pick.Endpoint;
            if (chosen is null && (context.Response.StatusCode >= 400 || context.Response.HasStarted))
            {
                // The picker answered the request itself.
                serviceMetrics.Record(context.Response.StatusCode, start);
                Record(context, service, endpoint: null, context.Response.StatusCode);
                return;
            }

            endpoint = TryTake(chosen, service);
            if (endpoint is null && chosen is not null && lease is IRetryablePick next)
            {
                // The picker's choice is full or out of rate tokens: its next choice, so that its accounting follows.
                chosen = next.RetryExcluding(unreachable: false);
                endpoint = TryTake(chosen, service);
            }

            endpoint ??= Acquire(service, RoutingPolicy.LeastRequests, exclude: null, out reason);
            if (endpoint is null)
            {
                await Rejected(serviceMetrics, context, start, reason, service);
                return;
            }

            if (ReferenceEquals(endpoint, chosen) && lease is IRetryablePick retryable)
            {
                // A refused connection moves the request to the picker's next choice (ForwardAsync).
                context.Features.Set(retryable);
            }

            await ForwardAsync(context, service, RoutingPolicy.LeastRequests, endpoint, serviceMetrics, start, counted);
        }
        catch (BadHttpRequestException tooLarge) when (endpoint is null && tooLarge.StatusCode == StatusCodes.Status413PayloadTooLarge && !context.Response.HasStarted)
        {
            // A chunked body past MaxRequestBodyBytes, cut off while the picker read it.
            await Answered(serviceMetrics, context, start, StatusResponses.TooLarge(context));
            Record(context, service, endpoint: null, context.Response.StatusCode);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            if (endpoint is null)
            {
                serviceMetrics.Record(StatusResponses.Status499ClientClosed, start);
                Record(context, service, endpoint: null, StatusResponses.Status499ClientClosed);
            }
        }
        finally
        {
            // ForwardAsync gives the service's count back itself; every other way out gives it back here.
            if (endpoint is null && counted)
            {
                service.Shared.Exit();
            }

            lease?.Dispose();
        }
    }

    /// <summary>Forwards to <paramref name="endpoint"/>, which the caller has entered; exits it and the service's count.</summary>
    private async Task ForwardAsync(
        HttpContext context,
        ServiceEntry service,
        RoutingPolicy policy,
        EndpointState endpoint,
        GatewayMetrics.ServiceMetrics serviceMetrics,
        long start,
        bool counted)
    {
        var deadline = _deadlines.Rent(service.Keepalive);
        context.Features.Set(deadline);
        serviceMetrics.Enter();
        var activity = GatewayTracing.Start(context, service);
        var config = IsUpgrade(context) ? service.UpgradeRequestConfig : service.RequestConfig;
        try
        {
            // One loop instead of a helper per attempt: an async helper would cost a state machine per request.
            var retried = false;
            ForwarderError error;
            while (true)
            {
                try
                {
                    error = await forwarder.SendAsync(context, endpoint.DestinationPrefix, invoker, config, _transformer, deadline.Token);
                }
                finally
                {
                    endpoint.Exit();
                }

                if (error == ForwarderError.None)
                {
                    return;
                }

                var retryable = context.Features.Get<IRetryablePick>();
                if (IsConnectionRefused(context, error))
                {
                    GatewayLog.ConnectRefused(logger, service.Name, endpoint.Address, endpoint.InstanceId);
                }
                else if (retryable is not null && IsLostBeforeResponse(context, error))
                {
                    GatewayLog.LostBeforeResponse(logger, service.Name, endpoint.Address, endpoint.InstanceId, context.Features.Get<IForwarderErrorFeature>()?.Exception);
                }
                else
                {
                    break;
                }

                if ((retried && retryable is null) || context.Response.HasStarted)
                {
                    break;
                }

                // Nothing of the request reached the instance (refused), or a request-aware pick's instance went away
                // before answering (its body is buffered, an LLM completion can be asked again): another endpoint may
                // take it, once, or as often as the picker's own retry budget allows (Gateway:Llm:MaxRetries).
                var other = retryable is not null
                    ? EnterOrNull(retryable.RetryExcluding(unreachable: true), service.MaxQueueSize)
                    : Acquire(service, policy, exclude: endpoint, out _);
                if (other is null)
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
            context.Features.Set<RequestDeadline>(null);
            _deadlines.Return(deadline);
            serviceMetrics.Exit();
            if (counted)
            {
                service.Shared.Exit();
            }

            // A caller that went away before any response started is counted as nginx does: 499.
            var aborted = context.RequestAborted.IsCancellationRequested;
            var status = aborted && !context.Response.HasStarted ? StatusResponses.Status499ClientClosed : context.Response.StatusCode;
            serviceMetrics.Record(status, start);
            (endpoint.Metrics ??= metrics.ForInstance(service.Name, endpoint.InstanceId)).Record(status, start);
            if (aborted)
            {
                var elapsedMs = (long)Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                GatewayLog.ClientClosed(logger, service.Name, endpoint.InstanceId, elapsedMs);
            }

            if (activity is not null)
            {
                GatewayTracing.Stop(activity, endpoint, status);
            }

            Record(context, service, endpoint, status, activity);
        }
    }

    private Task ReportAsync(HttpContext context, ServiceEntry service, EndpointState endpoint, ForwarderError error, RequestDeadline deadline)
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

    /// <summary>An HTTP/1.1 upgrade (WebSocket) or an HTTP/2 extended CONNECT: a long-lived tunnel, not a request.</summary>
    private static bool IsUpgrade(HttpContext context) =>
        context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true }
        || HttpMethods.IsConnect(context.Request.Method);

    // The instance closed or reset the connection after the request went out and before any response byte.
    private static bool IsLostBeforeResponse(HttpContext context, ForwarderError error) =>
        error is ForwarderError.Request
        && !context.Response.HasStarted
        && !context.RequestAborted.IsCancellationRequested
        && context.Features.Get<IForwarderErrorFeature>()?.Exception is HttpRequestException;

    private static bool IsConnectionRefused(HttpContext context, ForwarderError error) =>
        error is ForwarderError.Request
        && context.Features.Get<IForwarderErrorFeature>()?.Exception is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError };
}
