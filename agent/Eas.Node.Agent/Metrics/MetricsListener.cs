using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Eas.Node.Agent.Options;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prometheus;

namespace Eas.Node.Agent.Metrics;

/// <summary>
/// The agent's only HTTP listener, at <c>Agent:MetricsListen</c>: it answers <c>GET /metrics</c> (and <c>HEAD</c>) in the
/// Prometheus text format, one request per connection (<c>Connection: close</c>), and nothing else (404 for other
/// paths, 405 for other methods, 400 for what is not an HTTP/1 request). A plain socket server rather than Kestrel:
/// the agent's resident memory and package size are budgeted, and a scrape endpoint needs none of a web server's
/// features. An address that cannot be bound is logged and the agent runs on without metrics: managing instances
/// matters more than being scraped.
/// </summary>
public sealed partial class MetricsListener : IHostedService, IAsyncDisposable
{
    private const string Setting = "Agent:MetricsListen";
    private const int MaxRequestBytes = 8192;
    private const int MaxConcurrent = 16;
    private static readonly TimeSpan _requestTimeout = TimeSpan.FromSeconds(10);

    private readonly string _listen;
    private readonly CollectorRegistry _registry;
    private readonly ILogger<MetricsListener> _logger;
    private readonly SemaphoreSlim _concurrent = new(MaxConcurrent, MaxConcurrent);
    private readonly List<TcpListener> _listeners = [];
    private readonly List<Task> _loops = [];
    private CancellationTokenSource? _stop;

    /// <summary>Creates the listener; <paramref name="collector"/> is taken so that scrapes sample instances, cgroups and GPUs.</summary>
    public MetricsListener(IOptions<AgentOptions> options, AgentMetrics metrics, AgentMetricsCollector collector, ILogger<MetricsListener> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(collector);
        _listen = options.Value.MetricsListen;
        _registry = metrics.Registry;
        _logger = logger;
    }

    /// <summary>The addresses it listens on once started (ports resolved); empty when it does not listen.</summary>
    public IReadOnlyList<string> Urls { get; private set; } = [];

    /// <summary>
    /// The address and port of one <c>http://host:port</c> entry: an IP address, <c>localhost</c> (loopback), or
    /// <c>*</c> / <c>+</c> (every IPv4 address); null when it is none of those.
    /// </summary>
    internal static IPEndPoint? ParseEndpoint(string url)
    {
        const string Scheme = "http://";
        if (!url.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var hostPort = url[Scheme.Length..].TrimEnd('/');
        var colon = hostPort.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(hostPort.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            return null;
        }

        var host = hostPort[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }

        IPAddress? address = host switch
        {
            "*" or "+" => IPAddress.Any,
            _ when string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) => IPAddress.Loopback,
            _ => IPAddress.TryParse(host, out var parsed) ? parsed : null,
        };
        return address is null ? null : new IPEndPoint(address, port);
    }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var urls = AgentOptions.SplitListen(_listen);
        if (urls.Length == 0)
        {
            return Task.CompletedTask;
        }

        var bound = new List<string>();
        try
        {
            foreach (var url in urls)
            {
                var endpoint = ParseEndpoint(url) ?? throw new InvalidOperationException($"'{url}' is not http://address:port");
                var listener = new TcpListener(endpoint);
                listener.Start(backlog: 32);
                _listeners.Add(listener);
                var actual = (IPEndPoint)listener.LocalEndpoint;
                bound.Add(actual.AddressFamily == AddressFamily.InterNetworkV6 ? $"http://[{actual.Address}]:{actual.Port}" : $"http://{actual.Address}:{actual.Port}");
            }
        }
        catch (Exception ex) when (ex is SocketException or InvalidOperationException)
        {
            foreach (var listener in _listeners)
            {
                listener.Dispose();
            }

            _listeners.Clear();
            Log.CannotListen(_logger, Setting, _listen, ex.Message);
            return Task.CompletedTask;
        }

        _stop = new CancellationTokenSource();
        foreach (var listener in _listeners)
        {
            _loops.Add(Task.Run(() => AcceptLoopAsync(listener, _stop.Token), CancellationToken.None));
        }

        Urls = bound;
        var endpoints = string.Join(", ", bound.Select(u => u + "/metrics"));
        Log.Listening(_logger, endpoints, Setting);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stop is null)
        {
            return;
        }

        await _stop.CancelAsync();
        foreach (var listener in _listeners)
        {
            listener.Stop();
        }

        await Task.WhenAll(_loops).WaitAsync(cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);
        _listeners.Clear();
        _loops.Clear();
        _stop.Dispose();
        _stop = null;
        Urls = [];
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        _concurrent.Dispose();
    }

    private async Task AcceptLoopAsync(TcpListener listener, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                await _concurrent.WaitAsync(stop);
                socket = await listener.AcceptSocketAsync(stop);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException && stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                // A connection reset before it was accepted: take the next one.
                _concurrent.Release();
                continue;
            }

            _ = ServeAsync(socket, stop);
        }
    }

    private async Task ServeAsync(Socket socket, CancellationToken stop)
    {
        try
        {
            using (socket)
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop))
            {
                timeout.CancelAfter(_requestTimeout);
                var (status, body, head) = await AnswerAsync(socket, timeout.Token);
                var header = Encoding.ASCII.GetBytes(string.Create(
                    CultureInfo.InvariantCulture,
                    $"HTTP/1.1 {status} {Reason(status)}\r\nContent-Type: {(status == 200 ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8")}\r\nContent-Length: {body.Length}\r\n{(status == 405 ? "Allow: GET, HEAD\r\n" : "")}Connection: close\r\n\r\n"));
                await socket.SendAsync(header, SocketFlags.None, timeout.Token);
                if (!head && body.Length > 0)
                {
                    await socket.SendAsync(body, SocketFlags.None, timeout.Token);
                }

                // A lingering close: end our side, then read what the client may still send (an oversized request's
                // rest) until it closes, so that closing does not reset the connection under the answer.
                socket.Shutdown(SocketShutdown.Send);
                using var linger = CancellationTokenSource.CreateLinkedTokenSource(stop);
                linger.CancelAfter(TimeSpan.FromSeconds(1));
                var scratch = new byte[4096];
                for (var drained = 0; drained < 64 * 1024;)
                {
                    var read = await socket.ReceiveAsync(scratch, SocketFlags.None, linger.Token);
                    if (read == 0)
                    {
                        break;
                    }

                    drained += read;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // The scraper went away or took too long: nothing to answer.
        }
        finally
        {
            _concurrent.Release();
        }
    }

    // Reads the request head (up to 8 KiB) and decides the answer: (status, body, whether it was a HEAD request).
    private async Task<(int Status, ReadOnlyMemory<byte> Body, bool Head)> AnswerAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxRequestBytes];
        var length = 0;
        int end;
        while ((end = buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (length == buffer.Length)
            {
                return (431, Encoding.ASCII.GetBytes("Request Header Fields Too Large\n"), false);
            }

            var read = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                return (400, Encoding.ASCII.GetBytes("Bad Request\n"), false);
            }

            length += read;
        }

        var requestLine = Encoding.ASCII.GetString(buffer, 0, buffer.AsSpan(0, end).IndexOf("\r\n"u8) is var eol and >= 0 ? eol : end);
        var parts = requestLine.Split(' ');
        if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            return (400, Encoding.ASCII.GetBytes("Bad Request\n"), false);
        }

        var method = parts[0];
        var path = parts[1].Split('?', 2)[0];
        var head = method == "HEAD";
        if (path != "/metrics")
        {
            return (404, Encoding.ASCII.GetBytes("Not Found: metrics are served at /metrics\n"), head);
        }

        if (method != "GET" && !head)
        {
            return (405, Encoding.ASCII.GetBytes("Method Not Allowed: use GET /metrics\n"), false);
        }

        using var output = new MemoryStream();
        try
        {
            await _registry.CollectAndExportAsTextAsync(output, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return (503, Encoding.UTF8.GetBytes($"Service Unavailable: collecting the metrics failed: {ex.Message}\n"), head);
        }

        return (200, output.ToArray(), head);
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };

    // Event ids 990-999.
    private static partial class Log
    {
        [LoggerMessage(EventId = 990, Level = LogLevel.Information, Message = "Metrics at {Urls} ({Setting})")]
        public static partial void Listening(ILogger logger, string urls, string setting);

        [LoggerMessage(EventId = 991, Level = LogLevel.Error, Message = "{Setting}: cannot listen on {Listen}: {Reason}; running on without a metrics endpoint: set it to a free address (http://127.0.0.1:0 picks any port) or to \"\" to turn metrics off")]
        public static partial void CannotListen(ILogger logger, string setting, string listen, string reason);
    }
}
