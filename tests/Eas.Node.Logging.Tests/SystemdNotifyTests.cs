using Eas.Node.Logging.Systemd;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Eas.Node.Logging.Tests;

/// <summary>
/// sd_notify from a real host: NOTIFY_SOCKET points at a socket the test binds, as systemd's does for a
/// Type=notify unit. The tests set process environment variables, so they run one at a time (one class).
/// </summary>
public sealed class SystemdNotifyTests : IDisposable
{
    private static readonly TimeSpan _wait = TimeSpan.FromSeconds(5);
    private readonly DatagramListener _systemd = new();

    [Fact]
    public async Task Host_SendsReady_ThenWatchdogPings_ThenStopping()
    {
        using var host = Build(watchdogUsec: "200000", loop: new Loop(TimeSpan.MaxValue));
        Environment.GetEnvironmentVariable("NOTIFY_SOCKET").Should().BeNull("the variables are removed so that runc and the instances do not inherit them");
        Environment.GetEnvironmentVariable("WATCHDOG_USEC").Should().BeNull();

        await host.StartAsync();
        _systemd.ReceiveText(_wait).Should().Be("READY=1");
        _systemd.ReceiveText(_wait).Should().Be("WATCHDOG=1");
        _systemd.ReceiveText(_wait).Should().Be("WATCHDOG=1", "pings repeat every half of WATCHDOG_USEC");
        host.Services.GetServices<IHostedService>().OfType<SystemdNotifyService>().Single().PingInterval.Should().Be(TimeSpan.FromMilliseconds(100));

        await host.StopAsync();
        string last;
        do
        {
            last = _systemd.ReceiveText(_wait);
        }
        while (last == "WATCHDOG=1");

        last.Should().Be("STOPPING=1");
    }

    [Fact]
    public async Task MainLoopThatEnded_StopsTheWatchdogPings()
    {
        var loop = new Loop(TimeSpan.FromMilliseconds(500));
        using var host = Build(watchdogUsec: "100000", loop: loop);

        await host.StartAsync();
        _systemd.ReceiveText(_wait).Should().Be("READY=1");
        _systemd.ReceiveText(_wait).Should().Be("WATCHDOG=1");

        // The loop returns after 0.5 s (later on a busy machine: waited for, not timed); after that no ping may come.
        // A ping whose check ran just before is given a few intervals (50 ms each) to arrive and is drained first.
        await loop.ExecuteTask!.WaitAsync(_wait);
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        while (_systemd.HasDatagram(TimeSpan.Zero))
        {
            _systemd.ReceiveText(_wait).Should().Be("WATCHDOG=1");
        }

        _systemd.HasDatagram(TimeSpan.FromMilliseconds(500)).Should().BeFalse("a daemon whose main loop ended must let systemd's watchdog fire");
        await host.StopAsync();
    }

    [Fact]
    public async Task WatchdogForAnotherPid_IsNotPinged_ButReadyIsSent()
    {
        using var host = Build(watchdogUsec: "100000", loop: new Loop(TimeSpan.MaxValue), watchdogPid: "1");

        await host.StartAsync();
        _systemd.ReceiveText(_wait).Should().Be("READY=1");
        _systemd.HasDatagram(TimeSpan.FromMilliseconds(400)).Should().BeFalse("WATCHDOG_PID names another process");
        await host.StopAsync();
        _systemd.ReceiveText(_wait).Should().Be("STOPPING=1");
    }

    [Fact]
    public async Task WithoutNotifySocket_NothingIsSent_AndTheHostRuns()
    {
        Environment.SetEnvironmentVariable("NOTIFY_SOCKET", null);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSystemdNotify();
        using var host = builder.Build();

        await host.StartAsync();
        await host.StopAsync();

        host.Services.GetRequiredService<SystemdNotifier>().IsEnabled.Should().BeFalse();
        _systemd.HasDatagram(TimeSpan.FromMilliseconds(200)).Should().BeFalse();
    }

    [Theory]
    [InlineData("/run/systemd/notify", true)]
    [InlineData("@/org/freedesktop/systemd1/notify/1", true)]
    [InlineData("relative/path", false)]
    [InlineData("", false)]
    public void NotifySocket_PathOrAbstractName(string path, bool enabled)
    {
        using var notifier = SystemdNotifier.FromVariables(name => name == "NOTIFY_SOCKET" ? path : null, 42);

        notifier.IsEnabled.Should().Be(enabled);
        notifier.WatchdogTimeout.Should().BeNull();
    }

    [Theory]
    [InlineData("30000000", null, 30.0)]
    [InlineData("30000000", "42", 30.0)]
    [InlineData("30000000", "43", null)]
    [InlineData("0", null, null)]
    [InlineData("x", null, null)]
    public void WatchdogTimeout_FromWatchdogUsecForThisPid(string usec, string? pid, double? seconds)
    {
        var variables = new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = "/run/n", ["WATCHDOG_USEC"] = usec, ["WATCHDOG_PID"] = pid };
        using var notifier = SystemdNotifier.FromVariables(variables.GetValueOrDefault, 42);

        notifier.WatchdogTimeout.Should().Be(seconds is { } s ? TimeSpan.FromSeconds(s) : null);
    }

    public void Dispose()
    {
        foreach (var variable in SystemdNotifier.Variables)
        {
            Environment.SetEnvironmentVariable(variable, null);
        }

        _systemd.Dispose();
    }

    private IHost Build(string watchdogUsec, Loop loop, string? watchdogPid = null)
    {
        Environment.SetEnvironmentVariable("NOTIFY_SOCKET", _systemd.Path);
        Environment.SetEnvironmentVariable("WATCHDOG_USEC", watchdogUsec);
        Environment.SetEnvironmentVariable("WATCHDOG_PID", watchdogPid ?? Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.Configure<HostOptions>(o => o.BackgroundServiceExceptionBehavior = BackgroundServiceExceptionBehavior.Ignore);
        builder.Services.AddSystemdNotify();
        builder.Services.AddHostedService(_ => loop);
        builder.Services.AddMainLoopWatchdogCheck<Loop>();
        return builder.Build();
    }

    /// <summary>A main loop that runs for <see cref="_runFor"/> (or until the host stops), then returns.</summary>
    private sealed class Loop(TimeSpan runFor) : BackgroundService
    {
        private readonly TimeSpan _runFor = runFor;

        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            try
            {
                await Task.Delay(_runFor == TimeSpan.MaxValue ? Timeout.InfiniteTimeSpan : _runFor, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                // Stopping.
            }
        }
    }
}
