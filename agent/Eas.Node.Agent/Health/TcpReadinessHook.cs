using System.Net;
using System.Net.Sockets;
using Eas.Node.Agent.Instances;

namespace Eas.Node.Agent.Health;

/// <summary>
/// TCP readiness (EAS's default when no probe is configured): the instance is READY while a connection
/// to ip:port succeeds. Polls every 100 ms until the first success (deploy latency), then re-checks every
/// 1.5 s; a failed re-check reports not ready.
/// </summary>
public sealed class TcpReadinessHook(TimeProvider time) : IPoststartHook
{
    /// <summary>The fast interval while waiting for the first success.</summary>
    public static readonly TimeSpan StartupInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>The interval while ready.</summary>
    public static readonly TimeSpan ReadyInterval = TimeSpan.FromMilliseconds(1500);

    /// <summary>After this long without success, polling slows to every second.</summary>
    public static readonly TimeSpan FastPhase = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan _connectTimeout = TimeSpan.FromSeconds(1);

    /// <inheritdoc/>
    public string Name => "readiness";

    /// <inheritdoc/>
    public Task PoststartAsync(InstanceContext context, CancellationToken runToken)
    {
        var port = context.Assignment.Spec?.Port ?? 0;
        if (port <= 0 || !IPAddress.TryParse(context.Record.Ip, out var ip))
        {
            // Nothing to probe: a worker without a port counts as ready once it runs.
            context.ReadinessChanged(true);
            return Task.CompletedTask;
        }

        _ = ProbeLoopAsync(context, new IPEndPoint(ip, port), runToken);
        return Task.CompletedTask;
    }

    private async Task ProbeLoopAsync(InstanceContext context, IPEndPoint endpoint, CancellationToken runToken)
    {
        var started = time.GetUtcNow();
        bool? last = null;
        try
        {
            while (!runToken.IsCancellationRequested)
            {
                var ready = await ProbeAsync(endpoint, runToken);
                if (ready != last)
                {
                    last = ready;
                    context.ReadinessChanged(ready);
                }

                var interval = ready ? ReadyInterval : time.GetUtcNow() - started < FastPhase ? StartupInterval : TimeSpan.FromSeconds(1);
                await Task.Delay(interval, time, runToken);
            }
        }
        catch (OperationCanceledException)
        {
            // The run ended (exit, stop, agent shutdown).
        }
    }

    /// <summary>One TCP connect attempt.</summary>
    public static async Task<bool> ProbeAsync(IPEndPoint endpoint, CancellationToken cancellationToken)
    {
        using var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_connectTimeout);
        try
        {
            await socket.ConnectAsync(endpoint, timeout.Token);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
