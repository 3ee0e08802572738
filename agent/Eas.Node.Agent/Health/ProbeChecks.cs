using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Eas.Node.Agent.Instances;

namespace Eas.Node.Agent.Health;

/// <summary>The outcome of one check.</summary>
/// <param name="Passed">True when the check passed.</param>
/// <param name="Detail">What happened, for the reason a user sees: <c>GET http://10.0.0.5:8000/health returned 503</c>.</param>
public readonly record struct ProbeResult(bool Passed, string Detail);

/// <summary>One kind of health check against one instance: an HTTP GET, a TCP connect or a command inside it.</summary>
public interface IProbeCheck
{
    /// <summary>Runs the check once; a check that takes longer than <paramref name="timeout"/> fails. Throws only when cancelled.</summary>
    Task<ProbeResult> CheckAsync(TimeSpan timeout, CancellationToken cancellationToken);
}

/// <summary>Runs a command inside a running instance (its namespaces, cgroup and environment).</summary>
public interface IContainerExec
{
    /// <summary>
    /// Runs <paramref name="command"/> inside the instance and returns how it ended; past <paramref name="timeout"/> the
    /// command (and what it started) is killed. Cancelling kills it too.
    /// </summary>
    Task<ExecResult> ExecAsync(InstanceContext context, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken);
}

/// <summary>How a command run inside an instance ended.</summary>
/// <param name="ExitCode">Its exit code (128+N when killed by signal N).</param>
/// <param name="TimedOut">True when it was killed for running past its timeout.</param>
/// <param name="Output">The last lines it (or runc) wrote.</param>
public readonly record struct ExecResult(int ExitCode, bool TimedOut, string Output);

/// <summary><c>http_get</c>: a GET from the node to the instance; a status from 200 to 399 passes.</summary>
public sealed class HttpProbeCheck(Uri url, TimeProvider time) : IProbeCheck
{
    // One client for every probe of the agent: no proxy (probes go straight to the instance), no redirects (a 3xx passes
    // as it is), no connection kept between checks, and, as in Kubernetes, no certificate check for HTTPS.
    private static readonly HttpClient _client = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        PooledConnectionLifetime = TimeSpan.Zero,
        SslOptions = new SslClientAuthenticationOptions
        {
#pragma warning disable CA5359 // Kubernetes' HTTPS probes do not verify the instance's certificate either; there is no CA to check it against.
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
#pragma warning restore CA5359
        },
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>The URL it requests.</summary>
    public Uri Url => url;

    /// <inheritdoc/>
    public async Task<ProbeResult> CheckAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.ConnectionClose = true;
        request.Headers.UserAgent.ParseAdd("eas-agent-probe/1");
        var what = $"GET {url}";
        try
        {
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token);
            var code = (int)response.StatusCode;
            return new ProbeResult(code is >= 200 and < 400, $"{what} returned {code}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ProbeResult(false, $"{what}: no answer within {ProbeText.Seconds(timeout)}");
        }
        catch (HttpRequestException ex)
        {
            return new ProbeResult(false, $"{what}: {ProbeText.Problem(ex)}");
        }
    }
}

/// <summary><c>tcp_socket</c> (and the default readiness check): a TCP connect from the node to the instance.</summary>
public sealed class TcpProbeCheck(IPEndPoint endpoint, TimeProvider time) : IProbeCheck
{
    /// <summary>The address it connects to.</summary>
    public IPEndPoint Endpoint => endpoint;

    /// <inheritdoc/>
    public async Task<ProbeResult> CheckAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var what = $"TCP connect to {endpoint}";
        try
        {
            await socket.ConnectAsync(endpoint, linked.Token);
            return new ProbeResult(true, $"{what} succeeded");
        }
        catch (SocketException ex)
        {
            return new ProbeResult(false, $"{what} failed: {ProbeText.Problem(ex)}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ProbeResult(false, $"{what}: no answer within {ProbeText.Seconds(timeout)}");
        }
    }
}

/// <summary><c>exec</c>: a command run inside the instance; exit code 0 passes.</summary>
public sealed class ExecProbeCheck(IContainerExec exec, InstanceContext context, IReadOnlyList<string> command) : IProbeCheck
{
    /// <inheritdoc/>
    public async Task<ProbeResult> CheckAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var what = $"exec `{ProbeText.Command(command)}`";
        ExecResult result;
        try
        {
            result = await exec.ExecAsync(context, command, timeout, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The check could not even start (the instance directory went away, runc is missing): a failed check.
            return new ProbeResult(false, $"{what} could not run: {ex.Message}");
        }

        if (result.TimedOut)
        {
            return new ProbeResult(false, $"{what} did not finish within {ProbeText.Seconds(timeout)} (killed)");
        }

        var output = ProbeText.Output(result.Output);
        return result.ExitCode == 0
            ? new ProbeResult(true, $"{what} exited with code 0")
            : new ProbeResult(false, $"{what} exited with code {result.ExitCode.ToString(CultureInfo.InvariantCulture)}{(output.Length > 0 ? ": " + output : "")}");
    }
}

/// <summary>How checks read in reasons: short, on one line.</summary>
internal static class ProbeText
{
    private const int MaxOutput = 200;

    public static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

    public static string Command(IReadOnlyList<string> command)
    {
        var text = string.Join(' ', command.Select(w => w.Length == 0 || w.Any(char.IsWhiteSpace) ? $"'{w}'" : w));
        return text.Length > 80 ? text[..80] + "…" : text;
    }

    /// <summary>The last non-empty line of what a command wrote, cut short.</summary>
    public static string Output(string output)
    {
        var last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
        return last.Length > MaxOutput ? last[..MaxOutput] + "…" : last;
    }

    /// <summary>The innermost socket error ("Connection refused"), or the exception's message.</summary>
    public static string Problem(Exception ex)
    {
        for (var inner = ex; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException socket)
            {
                return socket.SocketErrorCode switch
                {
                    SocketError.ConnectionRefused => "connection refused (nothing listens on the port)",
                    SocketError.ConnectionReset => "connection reset",
                    SocketError.HostUnreachable or SocketError.NetworkUnreachable => "the instance's address is unreachable",
                    _ => socket.Message,
                };
            }
        }

        return ex.Message;
    }
}
