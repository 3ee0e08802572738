using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Prometheus;

namespace Eas.Node.Gateway.Metrics;

/// <summary>
/// A small Kestrel server of its own that answers <c>GET /metrics</c> with a registry in the Prometheus text format
/// and nothing else: no token, no routing, not reachable through <c>/api/predict</c>. It runs as a hosted service of
/// the daemon; an address that cannot be bound is logged with the setting that names it, and the daemon carries on
/// without metrics rather than stopping (its real work matters more than its metrics).
/// </summary>
public sealed partial class MetricsServer : IHostedService, IAsyncDisposable
{
    /// <summary>The content type of the Prometheus text exposition format 0.0.4.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly string _listen;
    private readonly string _setting;
    private readonly CollectorRegistry _registry;
    private readonly ILogger _logger;
    private KestrelServer? _server;

    /// <summary>Creates the server; nothing listens until <see cref="StartAsync"/>.</summary>
    /// <param name="listen">One or more <c>http://host:port</c> URLs separated by <c>;</c> (port 0 picks a free port).</param>
    /// <param name="setting">The setting <paramref name="listen"/> came from, for messages (e.g. <c>Gateway:MetricsListen</c>).</param>
    /// <param name="registry">What <c>/metrics</c> serves.</param>
    /// <param name="loggerFactory">Where the start and bind failure are logged.</param>
    public MetricsServer(string listen, string setting, CollectorRegistry registry, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _listen = listen;
        _setting = setting;
        _registry = registry;
        _logger = loggerFactory.CreateLogger<MetricsServer>();
    }

    /// <summary>The addresses it listens on once started (ports resolved); empty when it does not listen.</summary>
    public IReadOnlyList<string> Urls { get; private set; } = [];

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var urls = _listen.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (urls.Length == 0)
        {
            return;
        }

        var options = new KestrelServerOptions { AddServerHeader = false };
        options.Limits.MaxRequestBodySize = 0;
        options.Limits.MaxConcurrentConnections = 64;
        var server = new KestrelServer(
            Options.Create(options),
            new SocketTransportFactory(Options.Create(new SocketTransportOptions()), NullLoggerFactory.Instance),
            NullLoggerFactory.Instance);
        var addresses = server.Features.GetRequiredFeature<IServerAddressesFeature>();
        foreach (var url in urls)
        {
            addresses.Addresses.Add(url);
        }

        try
        {
            await server.StartAsync(new Application(_registry), cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or System.Net.Sockets.SocketException)
        {
            server.Dispose();
            Log.CannotListen(_logger, _setting, _listen, ex.Message);
            return;
        }

        _server = server;
        Urls = [.. addresses.Addresses];
        var endpoints = string.Join(", ", Urls.Select(u => u.TrimEnd('/') + "/metrics"));
        Log.Listening(_logger, endpoints, _setting);
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is { } server)
        {
            _server = null;
            Urls = [];
            await server.StopAsync(cancellationToken);
            server.Dispose();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None);

    /// <summary>
    /// Answers one request: <c>GET</c> (or <c>HEAD</c>) <c>/metrics</c> collects <paramref name="registry"/> (its
    /// before-collect callbacks read what is sampled at scrape time) into a buffer and sends it; a collection that
    /// fails is a 503 saying why; any other path is a 404 and any other method a 405.
    /// </summary>
    public static async Task ServeAsync(CollectorRegistry registry, HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(context);
        var request = context.Request;
        var response = context.Response;
        if (!string.Equals(request.Path.Value, "/metrics", StringComparison.Ordinal))
        {
            await PlainAsync(response, StatusCodes.Status404NotFound, "Not Found: metrics are served at /metrics\n", context.RequestAborted);
            return;
        }

        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            response.Headers.Allow = "GET, HEAD";
            await PlainAsync(response, StatusCodes.Status405MethodNotAllowed, "Method Not Allowed: use GET /metrics\n", context.RequestAborted);
            return;
        }

        using var buffer = new MemoryStream();
        try
        {
            await registry.CollectAndExportAsTextAsync(buffer, context.RequestAborted);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await PlainAsync(response, StatusCodes.Status503ServiceUnavailable, $"Service Unavailable: collecting the metrics failed: {ex.Message}\n", context.RequestAborted);
            return;
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = ContentType;
        response.ContentLength = buffer.Length;
        if (HttpMethods.IsGet(request.Method))
        {
            await response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), context.RequestAborted);
        }
    }

    private static Task PlainAsync(HttpResponse response, int status, string text, CancellationToken cancellationToken)
    {
        var body = System.Text.Encoding.UTF8.GetBytes(text);
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, 0, body.Length, cancellationToken);
    }

    /// <summary>The bare HTTP application Kestrel runs: one context per request, <see cref="ServeAsync"/> answers it.</summary>
    private sealed class Application(CollectorRegistry registry) : IHttpApplication<HttpContext>
    {
        public HttpContext CreateContext(IFeatureCollection contextFeatures) => new DefaultHttpContext(contextFeatures);

        public Task ProcessRequestAsync(HttpContext context) => ServeAsync(registry, context);

        public void DisposeContext(HttpContext context, Exception? exception)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4090, Level = LogLevel.Information, Message = "Metrics at {Urls} ({Setting})")]
        public static partial void Listening(ILogger logger, string urls, string setting);

        [LoggerMessage(EventId = 4091, Level = LogLevel.Error, Message = "{Setting}: cannot listen on {Listen}: {Reason}; running on without a metrics endpoint: set it to a free address (http://127.0.0.1:0 picks any port) or to \"\" to turn metrics off")]
        public static partial void CannotListen(ILogger logger, string setting, string listen, string reason);
    }
}
