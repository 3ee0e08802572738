using System.Globalization;
using System.Runtime.CompilerServices;
using Eas.Node.Gateway.Routing;

namespace Eas.Node.Gateway.Llm;

/// <summary>
/// Plugs <see cref="LlmRouter"/> into <see cref="Proxy.PredictHandler"/>'s request-aware seam: buffers an OpenAI
/// completions body (so the prompt can be read and the body still forwarded), routes by the service's current
/// endpoints, answers 429/503 with <c>Retry-After</c> itself when every replica is saturated, watches the response for
/// its first byte, and returns an <see cref="LlmPick"/> lease that the handler disposes when the request ends.
/// </summary>
internal sealed class LlmRequestPicker(LlmRouter router, GatewayOptions options) : IRequestAwarePicker
{
    // One replica list per routing-table entry (a new table builds new entries), tagged with its endpoints.
    private static readonly ConditionalWeakTable<ServiceEntry, LlmReplica[]>.CreateValueCallback _build = BuildReplicas;
    private readonly ConditionalWeakTable<ServiceEntry, LlmReplica[]> _replicas = [];
    private readonly int _maxBody = (int)Math.Min(options.MaxRequestBodyBytes, int.MaxValue);
    private readonly string _sessionHeader = router.Options.SessionHeader;

    public async ValueTask<RequestAwarePick> PickAsync(HttpContext context, ServiceEntry service, CancellationToken cancellationToken)
    {
        var request = context.Request;
        LlmRequestBody? body = null;
        LlmLease? lease = null;
        try
        {
            if (HttpMethods.IsPost(request.Method) && LlmRouter.IsCompletionsPath(request.Path.Value))
            {
                // The handler has refused declared lengths over the limit and capped chunked bodies; what is left fits.
                body = await LlmRequestBody.BufferAsync(request, _maxBody, cancellationToken);
                if (body is null)
                {
                    return default;
                }
            }

            string? session = null;
            if (_sessionHeader.Length > 0 && request.Headers.TryGetValue(_sessionHeader, out var values) && values.Count > 0)
            {
                session = values.ToString();
            }

            lease = await router.AcquireAsync(service.Name, _replicas.GetValue(service, _build), body?.Memory ?? default, session, cancellationToken);
            if (!lease.IsRouted)
            {
                await AnswerAsync(context, service, lease);
                lease.Dispose();
                body?.Dispose();
                return default;
            }

            LlmFirstByteStream.Watch(context.Response, lease);
            return new RequestAwarePick((EndpointState)lease.Replica!.Tag!, new LlmPick(lease, body));
        }
        catch
        {
            lease?.Dispose();
            body?.Dispose();
            throw;
        }
    }

    private static LlmReplica[] BuildReplicas(ServiceEntry service) =>
        [.. service.Endpoints.Select(e => new LlmReplica(e.InstanceId, e.Address, e))];

    private static Task AnswerAsync(HttpContext context, ServiceEntry service, LlmLease lease)
    {
        var response = context.Response;
        response.StatusCode = lease.StatusCode;
        if (lease.RetryAfterSeconds > 0)
        {
            response.Headers.RetryAfter = lease.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        }

        response.ContentType = "text/plain; charset=utf-8";
        var message = lease.Outcome switch
        {
            LlmOutcome.QueueFull => $"service {service.Name}: every replica is saturated and the LLM wait queue is full (Gateway:Llm:QueueCapacity); retry after {lease.RetryAfterSeconds} s, or add replicas.\n",
            LlmOutcome.QueueTimeout => $"service {service.Name}: every replica stayed saturated for the whole LLM queue wait (Gateway:Llm:QueueTimeoutMs); retry after {lease.RetryAfterSeconds} s, or add replicas.\n",
            _ => $"service {service.Name} has no ready replica; retry when an instance is Ready.\n",
        };
        return response.WriteAsync(message);
    }
}

/// <summary>
/// The lease <see cref="LlmRequestPicker"/> hands to the handler: the router's lease and the buffered body, both
/// released on <see cref="Dispose"/>.
/// </summary>
internal sealed class LlmPick(LlmLease lease, LlmRequestBody? body) : IDisposable, IRetryablePick
{
    public LlmLease Lease { get; } = lease;

    /// <summary>
    /// Before any response byte: moves the request to another replica it has not tried (marking this one down when
    /// <paramref name="unreachable"/>, e.g. a refused connection) and rewinds the body for the new attempt. Null when
    /// no replica is left or the retry budget is spent.
    /// </summary>
    public EndpointState? RetryExcluding(bool unreachable)
    {
        if (!Lease.RetryExcluding(unreachable))
        {
            return null;
        }

        body?.Rewind();
        return (EndpointState)Lease.Replica!.Tag!;
    }

    public void Dispose()
    {
        Lease.Dispose();
        body?.Dispose();
    }
}
