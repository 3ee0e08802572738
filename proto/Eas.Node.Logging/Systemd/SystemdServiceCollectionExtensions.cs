using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;

namespace Eas.Node.Logging.Systemd;

/// <summary>Registers the daemons' systemd integration.</summary>
public static class SystemdServiceCollectionExtensions
{
    /// <summary>
    /// Under systemd: Microsoft.Extensions.Hosting.Systemd's lifetime (SIGTERM stops the host), and
    /// <see cref="SystemdNotifyService"/> for READY, STOPPING and watchdog pings. The notifications are sent
    /// whenever <c>NOTIFY_SOCKET</c> is set — also when the parent process is not systemd (a test, <c>systemd-run
    /// --scope</c>), where Microsoft's integration stays silent — and only by this service: Microsoft's notifier is
    /// replaced by one that sends nothing, so no state is sent twice. The variables are removed from the process
    /// environment here, before any child process starts.
    /// </summary>
    public static IServiceCollection AddSystemdNotify(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddSystemd();
        services.Replace(ServiceDescriptor.Singleton<ISystemdNotifier>(SilentNotifier.Instance));
        var notifier = SystemdNotifier.FromEnvironment(unsetEnvironment: true);
        services.Replace(ServiceDescriptor.Singleton(notifier));
        services.AddHostedService<SystemdNotifyService>();
        return services;
    }

    /// <summary>Adds a condition the watchdog pings depend on.</summary>
    public static IServiceCollection AddSystemdWatchdogCheck(this IServiceCollection services, string name, Func<IServiceProvider, bool> isHealthy)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddSingleton(new SystemdWatchdogCheck(name, isHealthy));
        return services;
    }

    /// <summary>
    /// Pings the watchdog only while the hosted <typeparamref name="TLoop"/> runs: its ExecuteAsync has not returned
    /// or thrown (the daemon's main loop).
    /// </summary>
    public static IServiceCollection AddMainLoopWatchdogCheck<TLoop>(this IServiceCollection services)
        where TLoop : BackgroundService =>
        services.AddSystemdWatchdogCheck(typeof(TLoop).Name, sp =>
        {
            var loop = sp.GetServices<IHostedService>().OfType<TLoop>().FirstOrDefault() ?? sp.GetService<TLoop>();
            return loop?.ExecuteTask is not { IsCompleted: true };
        });

    private sealed class SilentNotifier : ISystemdNotifier
    {
        public static readonly SilentNotifier Instance = new();

        public bool IsEnabled => false;

        public void Notify(ServiceState state)
        {
        }
    }
}
