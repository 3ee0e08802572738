using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Eas.Node.Logging.Systemd;

/// <summary>One condition the watchdog pings depend on (e.g. "the main loop is alive").</summary>
/// <param name="Name">What is checked, for the log line when it fails.</param>
/// <param name="IsHealthy">Evaluated before each ping.</param>
public sealed record SystemdWatchdogCheck(string Name, Func<IServiceProvider, bool> IsHealthy);

/// <summary>
/// Tells systemd how the daemon is: <c>READY=1</c> when the host has started (every hosted service started, so every
/// listener is bound: the host fires ApplicationStarted after them), <c>STOPPING=1</c> when it begins to stop, and,
/// when systemd set a watchdog (WatchdogSec=), <c>WATCHDOG=1</c> every half of its timeout — only while every
/// <see cref="SystemdWatchdogCheck"/> passes. A daemon whose main loop died, or that is too wedged to run a timer,
/// stops pinging and systemd restarts it.
/// </summary>
public sealed partial class SystemdNotifyService(
    SystemdNotifier notifier,
    IHostApplicationLifetime lifetime,
    IServiceProvider services,
    IEnumerable<SystemdWatchdogCheck> checks,
    ILogger<SystemdNotifyService> logger) : IHostedService, IDisposable
{
    private readonly SystemdWatchdogCheck[] _checks = [.. checks];
    private readonly CancellationTokenSource _stop = new();
    private readonly List<CancellationTokenRegistration> _registrations = [];
    private Task _watchdog = Task.CompletedTask;
    private bool _disposed;

    /// <summary>How often the watchdog is pinged: half the timeout, as sd_watchdog_enabled(3) advises.</summary>
    public TimeSpan? PingInterval => notifier.WatchdogTimeout / 2;

    /// <inheritdoc/>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!notifier.IsEnabled)
        {
            return Task.CompletedTask;
        }

        _registrations.Add(lifetime.ApplicationStarted.Register(() =>
        {
            notifier.Notify("READY=1");
            if (PingInterval is { } interval)
            {
                _watchdog = PingAsync(interval, _stop.Token);
            }
        }));
        _registrations.Add(lifetime.ApplicationStopping.Register(() =>
        {
            _stop.Cancel();
            notifier.Notify("STOPPING=1");
        }));
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // A host may be stopped after it was disposed (a test's using block); then there is nothing left to stop.
        if (_disposed)
        {
            return;
        }

        await _stop.CancelAsync();
        await _watchdog.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _disposed = true;
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _stop.Dispose();
    }

    private async Task PingAsync(TimeSpan interval, CancellationToken stoppingToken)
    {
        string? failing = null;
        using var timer = new PeriodicTimer(interval);
        try
        {
            do
            {
                var failed = Array.Find(_checks, c => !Healthy(c));
                if (failed is null)
                {
                    notifier.Notify("WATCHDOG=1");
                    if (failing is not null)
                    {
                        Log.WatchdogHealthy(logger, failing);
                        failing = null;
                    }
                }
                else if (failing != failed.Name)
                {
                    failing = failed.Name;
                    Log.WatchdogUnhealthy(logger, failed.Name);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private bool Healthy(SystemdWatchdogCheck check)
    {
        try
        {
            return check.IsHealthy(services);
        }
        catch (Exception)
        {
            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(9001, LogLevel.Error, "Watchdog: {Check} is not healthy; no more WATCHDOG=1 pings, systemd restarts the daemon after WatchdogSec")]
        public static partial void WatchdogUnhealthy(ILogger logger, string check);

        [LoggerMessage(9002, LogLevel.Information, "Watchdog: {Check} is healthy again; pinging systemd")]
        public static partial void WatchdogHealthy(ILogger logger, string check);
    }
}
