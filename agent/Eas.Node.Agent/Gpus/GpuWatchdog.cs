using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.State;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Eas.Node.Agent.Gpus;

/// <summary>
/// After every GPU poll: maps NVML's compute processes (host pids) to instances through their cgroup,
/// totals each instance's GPU memory, and evicts (restarts) an instance on a shared GPU that stays over
/// its slice longer than <see cref="GpuOptions.WatchdogGraceSeconds"/> — MPS limits memory per process,
/// so an instance with several processes could otherwise take more than its slice. It also stops MPS
/// daemons that no shared instance needs any more.
/// </summary>
public sealed class GpuWatchdog(
    GpuMonitor monitor,
    InstanceSupervisor supervisor,
    MpsDaemons mps,
    IOptions<AgentOptions> options,
    ILogger<GpuWatchdog> logger) : IHostedService
{
    private readonly TimeSpan _grace = TimeSpan.FromSeconds(options.Value.Gpu.WatchdogGraceSeconds);
    private readonly Dictionary<string, DateTimeOffset> _overSince = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private IReadOnlyList<InstanceGpuUsage> _usage = [];
    private int _retaining;

    /// <summary>What each GPU instance used at the last poll.</summary>
    public IReadOnlyList<InstanceGpuUsage> InstanceUsage
    {
        get
        {
            lock (_gate)
            {
                return _usage;
            }
        }
    }

    /// <inheritdoc/>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        monitor.Polled += OnPolled;
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        monitor.Polled -= OnPolled;
        return Task.CompletedTask;
    }

    /// <summary>Checks one poll's processes against the instances' slices.</summary>
    internal void OnPolled(GpuPoll poll)
    {
        var withGpus = supervisor.Runners().Where(r => r.Assignment.Spec?.Gpu is not null).ToList();
        var runners = withGpus.Where(r => !r.Stopping).ToList();
        var byContainer = runners.ToDictionary(r => Naming.ContainerId(r.InstanceId), StringComparer.Ordinal);
        var usedMib = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (gpu, processes) in poll.Processes)
        {
            foreach (var process in processes)
            {
                if (InstanceOf(process.Pid, byContainer) is { } runner && runner.Assignment.Spec!.Gpu.GpuUuids.Contains(gpu))
                {
                    usedMib[runner.InstanceId] = usedMib.GetValueOrDefault(runner.InstanceId) + (process.UsedBytes / (1024 * 1024));
                }
            }
        }

        var usage = new List<InstanceGpuUsage>();
        lock (_gate)
        {
            foreach (var runner in runners)
            {
                var allocation = runner.Assignment.Spec!.Gpu;
                var used = usedMib.GetValueOrDefault(runner.InstanceId);
                usage.Add(new InstanceGpuUsage { InstanceId = runner.InstanceId, MemoryUsedMib = used });
                if (!allocation.IsShared || used <= allocation.MemoryMib)
                {
                    _overSince.Remove(runner.InstanceId);
                    continue;
                }

                if (!_overSince.TryGetValue(runner.InstanceId, out var since))
                {
                    _overSince[runner.InstanceId] = poll.Time;
                    since = poll.Time;
                }

                if (poll.Time - since >= _grace)
                {
                    var seconds = (int)Math.Round((poll.Time - since).TotalSeconds);
                    GpuLog.Evicting(logger, runner.InstanceId, used, allocation.MemoryMib, seconds);
                    runner.Evict($"evicted by the GPU memory watchdog: used {used} MiB of GPU memory on {allocation.GpuUuids[0]}, over its slice of {allocation.MemoryMib} MiB for {seconds} s");
                    _overSince.Remove(runner.InstanceId);
                }
            }

            foreach (var gone in _overSince.Keys.Where(id => runners.All(r => r.InstanceId != id)).ToList())
            {
                _overSince.Remove(gone);
            }

            _usage = usage;
        }

        // Stopping instances still hold their MPS clients until they are gone.
        RetainNeededMpsDaemons(withGpus);
    }

    private void RetainNeededMpsDaemons(List<InstanceRunner> runners)
    {
        var needed = runners
            .Where(r => r.Assignment.Spec!.Gpu.IsShared)
            .Select(r => r.Assignment.Spec!.Gpu.GpuUuids[0])
            .ToHashSet(StringComparer.Ordinal);
        if (Interlocked.Exchange(ref _retaining, 1) == 1)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                await mps.RetainOnlyAsync(needed, CancellationToken.None);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                GpuLog.NoGpus(logger, "could not stop an unused MPS daemon: " + ex.Message);
            }
            finally
            {
                Volatile.Write(ref _retaining, 0);
            }
        });
    }

    // /proc/<pid>/cgroup names the instance's cgroup ("…/eas/eas-<instance>"), on v1 and v2 alike.
    private static InstanceRunner? InstanceOf(int pid, Dictionary<string, InstanceRunner> byContainer)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/cgroup");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        foreach (var line in text.Split('\n'))
        {
            var at = line.IndexOf("/eas/", StringComparison.Ordinal);
            if (at < 0)
            {
                continue;
            }

            var name = line[(at + 5)..];
            var slash = name.IndexOf('/', StringComparison.Ordinal);
            if (byContainer.TryGetValue(slash < 0 ? name : name[..slash], out var runner))
            {
                return runner;
            }
        }

        return null;
    }
}
