using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Forwarder;

namespace Eas.Node.Gateway.Proxy;

/// <summary>
/// Copies the request the way YARP's base transformer does (all end-to-end headers, the Authorization header having
/// been removed by the handler; <c>traceparent</c>/<c>tracestate</c> unchanged unless the gateway traces), points it at
/// <c>http://&lt;endpoint&gt;/&lt;sub/path&gt;?&lt;query&gt;</c> (or at the whole path for requests routed by the
/// <c>eas-service</c> header) and adds <c>X-Forwarded-For</c>. When the response headers arrive it disarms the
/// request's deadline (<see cref="RequestDeadline"/>).
/// </summary>
internal sealed class ForwardTransformer : HttpTransformer
{
    public const string PredictPrefix = "/api/predict/";
    private const string ForwardedFor = "X-Forwarded-For";
    private const string TraceParent = "traceparent";

    // Power of two; indexed by the endpoint's prefix string, so each endpoint keeps its last destination.
    private const int DestinationSlots = 16;

    private readonly Destination?[] _destinations = new Destination?[DestinationSlots];
    private RemoteAddress? _lastRemote;

    public override ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        // The base copy is synchronous today; stay correct if that ever changes.
        var copy = base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
        if (!copy.IsCompletedSuccessfully)
        {
            return FinishAfterAsync(copy, httpContext, proxyRequest, destinationPrefix);
        }

        Finish(httpContext, proxyRequest, destinationPrefix);
        return default;
    }

    private async ValueTask FinishAfterAsync(ValueTask copy, HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix)
    {
        await copy;
        Finish(httpContext, proxyRequest, destinationPrefix);
    }

    public override ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        // The first byte is here: rpc.keepalive now bounds idle gaps only (YARP's activity timeout).
        httpContext.Features.Get<RequestDeadline>()?.Disarm();
        return base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
    }

    private void Finish(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix)
    {
        proxyRequest.RequestUri = CachedDestination(httpContext, destinationPrefix);

        // With tracing on, the instance's spans hang under the gateway's span (same trace id).
        if (GatewayTracing.Source.HasListeners() && Activity.Current is { } activity && ReferenceEquals(activity.Source, GatewayTracing.Source) && activity.Id is { } id)
        {
            proxyRequest.Headers.Remove(TraceParent);
            proxyRequest.Headers.TryAddWithoutValidation(TraceParent, id);
        }

        var remote = RemoteText(httpContext.Connection.RemoteIpAddress);
        if (remote is null)
        {
            return;
        }

        var incoming = httpContext.Request.Headers[ForwardedFor];
        if (incoming.Count == 0)
        {
            proxyRequest.Headers.TryAddWithoutValidation(ForwardedFor, remote);
        }
        else
        {
            proxyRequest.Headers.Remove(ForwardedFor);
            proxyRequest.Headers.TryAddWithoutValidation(ForwardedFor, string.Join(", ", incoming.ToString(), remote));
        }
    }

    /// <summary>
    /// <see cref="BuildDestination"/>, reusing the <see cref="Uri"/> of the endpoint's previous request when the sub
    /// path and query are the same: callers of a model service mostly repeat one URL, and building and parsing it was
    /// a string, a Uri and its parse on every request. A <see cref="Uri"/> is immutable and safe to share.
    /// </summary>
    private Uri CachedDestination(HttpContext httpContext, string destinationPrefix)
    {
        var raw = httpContext.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (raw is null || !IsPlainTarget(raw))
        {
            return BuildDestination(httpContext, destinationPrefix);
        }

        var rest = Rest(raw);
        var slot = RuntimeHelpers.GetHashCode(destinationPrefix) & (DestinationSlots - 1);
        var cached = Volatile.Read(ref _destinations[slot]);
        if (cached is not null
            && string.Equals(cached.Prefix, destinationPrefix, StringComparison.Ordinal)
            && rest.SequenceEqual(cached.Rest))
        {
            return cached.Uri;
        }

        var uri = BuildDestination(httpContext, destinationPrefix);
        Volatile.Write(ref _destinations[slot], new Destination(destinationPrefix, rest.ToString(), uri));
        return uri;
    }

    /// <summary>
    /// The URL at the endpoint: the part of the request target after <c>/api/predict/&lt;service&gt;</c>, taken from
    /// the raw target so that the path's encoding and the query reach the instance exactly as the caller sent them.
    /// </summary>
    internal static Uri BuildDestination(HttpContext httpContext, string destinationPrefix)
    {
        var raw = httpContext.Features.Get<IHttpRequestFeature>()?.RawTarget;
        ReadOnlySpan<char> rest;
        if (raw is not null && IsPlainTarget(raw))
        {
            rest = Rest(raw);
        }
        else if (!(httpContext.Request.Path.Value ?? "").StartsWith(PredictPrefix, StringComparison.OrdinalIgnoreCase))
        {
            // Routed by the eas-service header (gRPC): the whole path and query go to the instance as sent.
            rest = raw is not null && raw.StartsWith('/')
                ? raw
                : string.Concat(httpContext.Request.Path.ToUriComponent(), httpContext.Request.QueryString.ToUriComponent());
        }
        else
        {
            // Absolute-form targets and dot segments: use the server's normalized path, re-encoded.
            var path = httpContext.Request.Path.Value ?? string.Empty;
            var sub = path.Length > PredictPrefix.Length ? path.AsSpan(PredictPrefix.Length) : [];
            var slash = sub.IndexOf('/');
            var subPath = slash < 0 ? string.Empty : new PathString(sub[slash..].ToString()).ToUriComponent();
            rest = string.Concat(subPath, httpContext.Request.QueryString.ToUriComponent());
        }

        string url;
        if (rest.IsEmpty)
        {
            url = string.Concat(destinationPrefix, "/");
        }
        else if (rest[0] == '/')
        {
            url = string.Concat(destinationPrefix, rest);
        }
        else
        {
            url = string.Concat(destinationPrefix, "/", rest);
        }

        return new Uri(url, UriKind.Absolute);
    }

    /// <summary>An origin-form target under the predict prefix without dot segments: usable as sent.</summary>
    private static bool IsPlainTarget(string raw) =>
        raw.StartsWith(PredictPrefix, StringComparison.OrdinalIgnoreCase) && !raw.Contains("/.", StringComparison.Ordinal);

    /// <summary>What follows <c>/api/predict/&lt;service&gt;</c> in a plain target: the sub path and query, or empty.</summary>
    private static ReadOnlySpan<char> Rest(string raw)
    {
        var tail = raw.AsSpan(PredictPrefix.Length);
        var end = tail.IndexOfAny('/', '?');
        return end < 0 ? [] : tail[end..];
    }

    // Formatting the client address on every request shows up in profiles; most connections come from a few peers.
    private string? RemoteText(IPAddress? address)
    {
        if (address is null)
        {
            return null;
        }

        var last = _lastRemote;
        if (last is not null && last.Address.Equals(address))
        {
            return last.Text;
        }

        var text = address.IsIPv4MappedToIPv6 ? address.MapToIPv4().ToString() : address.ToString();
        last = new RemoteAddress(address, text);
        _lastRemote = last;
        return last.Text;
    }

    private sealed record RemoteAddress(IPAddress Address, string Text);

    private sealed record Destination(string Prefix, string Rest, Uri Uri);
}
