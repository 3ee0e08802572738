using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Eas.Node.Agent.Tests.Health;

/// <summary>
/// A tiny HTTP/1.1 server on 127.0.0.1 that answers every request with a status chosen by the test, and records
/// each answer (before sending it) with a sequence number shared by all servers of the test run, so a test can
/// tell which server was asked first.
/// </summary>
internal sealed class ScriptedHttpServer : IAsyncDisposable
{
    private static long _sequence;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly List<Served> _served = [];
    private readonly Task _loop;

    public ScriptedHttpServer(Func<int, int>? statusOf = null)
    {
        StatusOf = statusOf ?? (_ => Status);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _loop = AcceptAsync();
    }

    /// <summary>One answered request: its global sequence number, the request path and the status sent.</summary>
    public readonly record struct Served(long Sequence, string Path, int Status);

    public int Port { get; }

    /// <summary>The status when no script is given (changeable while running).</summary>
    public int Status { get; set; } = 200;

    /// <summary>How long to wait before answering.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>The status of the n-th request (1-based).</summary>
    public Func<int, int> StatusOf { get; set; }

    public IReadOnlyList<Served> Answers
    {
        get
        {
            lock (_gate)
            {
                return [.. _served];
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _served.Count;
            }
        }
    }

    /// <summary>Stops listening: later connections are refused.</summary>
    public void StopListening() => _listener.Stop();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _loop;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = AnswerAsync(client);
        }
    }

    private async Task AnswerAsync(TcpClient client)
    {
        using var _ = client;
        try
        {
            var stream = client.GetStream();
            using var reader = new StreamReader(stream, Encoding.ASCII, leaveOpen: true);
            var requestLine = await reader.ReadLineAsync(_stop.Token) ?? "";
            while (!string.IsNullOrEmpty(await reader.ReadLineAsync(_stop.Token)))
            {
                // Headers are not needed.
            }

            if (Delay > TimeSpan.Zero)
            {
                await Task.Delay(Delay, _stop.Token);
            }

            var path = requestLine.Split(' ') is { Length: >= 2 } parts ? parts[1] : "";
            int status;
            lock (_gate)
            {
                status = StatusOf(_served.Count + 1);
                _served.Add(new Served(Interlocked.Increment(ref _sequence), path, status));
            }

            var response = string.Create(CultureInfo.InvariantCulture,
                $"HTTP/1.1 {status} Status\r\nContent-Length: 0\r\nLocation: /elsewhere\r\nConnection: close\r\n\r\n");
            await stream.WriteAsync(Encoding.ASCII.GetBytes(response), _stop.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The probe gave up (timeout) or the test ended.
        }
    }
}
