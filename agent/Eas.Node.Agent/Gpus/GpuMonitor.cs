using System.Globalization;
using Eas.Node.Agent.Interop.Nvml;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.State;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Eas.Node.Agent.Gpus;

/// <summary>
/// This node's GPUs through NVML: the inventory (read once at start), their health (XID critical errors
/// from an NVML event set, GPUs lost from the bus), and usage polled every <see cref="GpuOptions.PollSeconds"/>.
/// A node without the NVML library, or whose driver fails to initialize, has no GPUs and says why.
/// </summary>
public sealed class GpuMonitor : BackgroundService
{
    private readonly GpuOptions _options;
    private readonly AgentPaths _paths;
    private readonly TimeProvider _time;
    private readonly ILogger<GpuMonitor> _logger;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _changed = new(0, 1);
    private readonly HashSet<ulong> _ignoredXids;
    private NvmlSession? _session;
    private bool _opened;
    private string _driverVersion = "";
    private string _cudaVersion = "";
    private string _unavailableReason = "";
    private GpuState[] _gpus = [];

    /// <summary>Creates the monitor; NVML is opened on first use.</summary>
    public GpuMonitor(IOptions<AgentOptions> options, AgentPaths paths, TimeProvider time, ILogger<GpuMonitor> logger)
    {
        _options = options.Value.Gpu;
        _paths = paths;
        _time = time;
        _logger = logger;
        _ignoredXids = _options.IgnoredXidSet() ?? [];
    }

    /// <summary>Raised after every poll, on the polling thread, with each GPU's compute processes.</summary>
    public event Action<GpuPoll>? Polled;

    /// <summary>True when NVML is loaded and lists at least one GPU.</summary>
    public bool HasGpus
    {
        get
        {
            Open();
            return _gpus.Length > 0;
        }
    }

    /// <summary>Opens NVML and reads the inventory, once; later calls return at once.</summary>
    public void Open()
    {
        lock (_gate)
        {
            if (_opened)
            {
                return;
            }

            _opened = true;
            if (_options.FakeProfile.Length > 0)
            {
                // The fake libnvidia-ml reads these at nvmlInit: a profile and where its runtime state lives.
                NvmlFake.SetEnvironment(_options.FakeProfile, _options.FakeState.Length > 0 ? _options.FakeState : Path.Combine(_paths.Root, "fake-nvml"));
            }

            _session = Nvml.TryOpen(_options.NvmlLibrary, out var reason);
            if (_session is null)
            {
                _unavailableReason = reason;
                GpuLog.NoGpus(_logger, reason);
                return;
            }

            try
            {
                _driverVersion = _session.DriverVersion;
                _cudaVersion = _session.CudaDriverVersionText;
                _gpus = [.. Enumerable.Range(0, _session.DeviceCount).Select(i => GpuState.Read(_session.GetDevice(i), i))];
                foreach (var gpu in _gpus)
                {
                    GpuLog.Found(_logger, gpu.Index, gpu.Uuid, gpu.Model, gpu.MemoryMib, gpu.MigEnabled ? $", MIG mode with {gpu.MigDevices.Count} devices" : "");
                }
            }
            catch (NvmlException ex)
            {
                _unavailableReason = $"NVML could not list the GPUs: {ex.Message}";
                _gpus = [];
                GpuLog.NoGpus(_logger, _unavailableReason);
            }
        }
    }

    /// <summary>The GPU with this UUID (or the parent of this MIG device), or null when this node has none such.</summary>
    public GpuDescription? Find(string uuid)
    {
        Open();
        lock (_gate)
        {
            return _gpus.FirstOrDefault(g => g.Uuid == uuid)?.Describe();
        }
    }

    /// <summary>The inventory in the form the coordinator takes: every GPU with its health and last usage.</summary>
    public GpuInventory Inventory()
    {
        Open();
        var inventory = new GpuInventory { DriverVersion = _driverVersion, CudaVersion = _cudaVersion, UnavailableReason = _unavailableReason };
        lock (_gate)
        {
            inventory.Gpus.AddRange(_gpus.Select(g => g.ToMessage(_time.GetUtcNow())));
        }

        return inventory;
    }

    /// <summary>Waits until the inventory or a GPU's health changes (or the token ends).</summary>
    public Task WaitForChangeAsync(CancellationToken cancellationToken) => _changed.WaitAsync(cancellationToken);

    /// <inheritdoc/>
    public override void Dispose()
    {
        base.Dispose();
        _session?.Dispose();
        _changed.Dispose();
    }

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Open();
        if (_session is null || _gpus.Length == 0)
        {
            return;
        }

        var events = Task.Factory.StartNew(() => WatchEvents(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_options.PollSeconds), _time);
        try
        {
            do
            {
                Poll();
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }

        await events;
    }

    /// <summary>One poll: usage, processes and reachability of every GPU; health changes are signalled.</summary>
    internal void Poll()
    {
        var now = _time.GetUtcNow();
        var processes = new Dictionary<string, IReadOnlyList<NvmlProcess>>(StringComparer.Ordinal);
        var changed = false;
        foreach (var gpu in _gpus)
        {
            string? lost = null;
            try
            {
                var device = _session!.GetDeviceByUuid(gpu.Uuid);
                var list = device.ComputeProcesses();
                var usage = new GpuUsage
                {
                    UtilizationPercent = device.Utilization().GpuPercent,
                    MemoryUsedMib = device.Memory().UsedBytes / (1024 * 1024),
                    TemperatureCelsius = device.TemperatureCelsius() ?? 0,
                    PowerMilliwatts = device.PowerMilliwatts() ?? 0,
                };
                lock (_gate)
                {
                    gpu.Usage = usage;
                }

                processes[gpu.Uuid] = list;
            }
            catch (NvmlException ex)
            {
                lost = ex.Code == NvmlReturn.GpuIsLost ? "lost from the bus (NVML: GPU is lost)" : $"does not answer NVML: {ex.Message}";
            }

            lock (_gate)
            {
                gpu.LostReason = lost;
                changed |= gpu.HealthChanged(now);
            }
        }

        if (changed)
        {
            SignalChange();
        }

        Polled?.Invoke(new GpuPoll(now, processes));
    }

    private void WatchEvents(CancellationToken stoppingToken)
    {
        NvmlEventSet? set = null;
        try
        {
            set = _session!.CreateEventSet();
            foreach (var gpu in _gpus)
            {
                try
                {
                    set.RegisterXidEvents(_session.GetDevice(gpu.Index));
                }
                catch (NvmlException ex)
                {
                    GpuLog.NoEvents(_logger, gpu.Index, ex.Message);
                }
            }

            while (!stoppingToken.IsCancellationRequested)
            {
                NvmlEvent? received;
                try
                {
                    received = set.Wait(TimeSpan.FromSeconds(1));
                }
                catch (NvmlException ex)
                {
                    // A lost GPU interrupts the wait; the poll finds which one. Back off a little and go on.
                    GpuLog.EventWaitFailed(_logger, ex.Message);
                    stoppingToken.WaitHandle.WaitOne(TimeSpan.FromSeconds(1));
                    continue;
                }

                if (received is { } e)
                {
                    OnXid(e);
                }
            }
        }
        catch (NvmlException ex)
        {
            GpuLog.NoEvents(_logger, -1, ex.Message);
        }
        finally
        {
            set?.Dispose();
        }
    }

    private void OnXid(NvmlEvent e)
    {
        string uuid;
        try
        {
            uuid = e.Device.IsMigDevice() ? e.Device.ParentDevice().Uuid() : e.Device.Uuid();
        }
        catch (NvmlException)
        {
            // A GPU that fell off the bus cannot name itself any more: match by handle.
            uuid = _gpus.FirstOrDefault(g => g.Handle == e.Device.Handle)?.Uuid ?? "";
        }

        var gpu = _gpus.FirstOrDefault(g => g.Uuid == uuid);
        if (gpu is null)
        {
            return;
        }

        if (_ignoredXids.Contains(e.Xid))
        {
            GpuLog.IgnoredXid(_logger, gpu.Index, e.Xid);
            return;
        }

        GpuLog.Xid(_logger, gpu.Index, gpu.Uuid, e.Xid);
        bool changed;
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            gpu.SetXid(e.Xid, now, _options.XidHoldSeconds);
            changed = gpu.HealthChanged(now);
        }

        if (changed)
        {
            SignalChange();
        }
    }

    private void SignalChange()
    {
        try
        {
            _changed.Release();
        }
        catch (SemaphoreFullException)
        {
            // A change is already pending; the reader sends the newest state anyway.
        }
    }

    /// <summary>One GPU's inventory and health; mutable fields are guarded by the monitor's lock.</summary>
    private sealed class GpuState
    {
        public required int Index { get; init; }

        public required nint Handle { get; init; }

        public required string Uuid { get; init; }

        public required string Model { get; init; }

        public required long MemoryMib { get; init; }

        public required int Minor { get; init; }

        public required string ComputeCapability { get; init; }

        public required string PciBusId { get; init; }

        public required bool MigEnabled { get; init; }

        public required IReadOnlyList<MigDeviceDescription> MigDevices { get; init; }

        public GpuUsage Usage { get; set; } = new();

        /// <summary>Why NVML calls on it fail (lost from the bus), or null while it answers.</summary>
        public string? LostReason { get; set; }

        public ulong LastXid { get; private set; }

        public DateTimeOffset LastXidAt { get; private set; }

        public DateTimeOffset XidHoldUntil { get; private set; }

        /// <summary>The health last signalled as a change, so each change is reported once.</summary>
        private bool ReportedHealthy { get; set; } = true;

        public static GpuState Read(NvmlDevice device, int index)
        {
            var (major, minor) = device.CudaComputeCapability();
            var mig = device.MigMode().Current;
            return new GpuState
            {
                Index = index,
                Handle = device.Handle,
                Uuid = device.Uuid(),
                Model = device.Name(),
                MemoryMib = device.Memory().TotalBytes / (1024 * 1024),
                Minor = device.MinorNumber(),
                ComputeCapability = string.Create(CultureInfo.InvariantCulture, $"{major}.{minor}"),
                PciBusId = device.PciInfo().BusId,
                MigEnabled = mig,
                MigDevices = mig ? [.. device.MigDevices().Select(MigDeviceDescription.Read)] : [],
            };
        }

        /// <summary>An XID critical error: unhealthy for at least <paramref name="holdSeconds"/>, and as long as it stays lost.</summary>
        public void SetXid(ulong xid, DateTimeOffset now, int holdSeconds)
        {
            LastXid = xid;
            LastXidAt = now;
            XidHoldUntil = now + TimeSpan.FromSeconds(holdSeconds);
        }

        /// <summary>Healthy while it answers NVML and no XID hold is running.</summary>
        public bool HealthyAt(DateTimeOffset now) => LostReason is null && now >= XidHoldUntil;

        /// <summary>True when the health at <paramref name="now"/> differs from the one last reported (which it then becomes).</summary>
        public bool HealthChanged(DateTimeOffset now)
        {
            var healthy = HealthyAt(now);
            if (healthy == ReportedHealthy)
            {
                return false;
            }

            ReportedHealthy = healthy;
            return true;
        }

        public GpuDescription Describe() => new(Index, Uuid, Model, Minor, MigDevices);

        public Gpu ToMessage(DateTimeOffset now)
        {
            var healthy = HealthyAt(now);
            var message = new Gpu
            {
                Index = Index,
                Uuid = Uuid,
                Model = Model,
                MemoryMib = MemoryMib,
                Minor = Minor,
                ComputeCapability = ComputeCapability,
                PciBusId = PciBusId,
                MigEnabled = MigEnabled,
                Healthy = healthy,
                HealthReason = healthy ? "" : LostReason ?? string.Create(CultureInfo.InvariantCulture, $"XID {LastXid} at {LastXidAt:HH:mm:ss} UTC"),
                Usage = Usage,
            };
            message.MigDevices.AddRange(MigDevices.Select(m => new MigDevice
            {
                Uuid = m.Uuid,
                Profile = m.Profile,
                MemoryMib = m.MemoryMib,
                SliceCount = m.SliceCount,
                GpuInstanceId = m.GpuInstanceId,
                ComputeInstanceId = m.ComputeInstanceId,
            }));
            return message;
        }

    }
}

/// <summary>What one poll saw: each reachable GPU's compute processes (host pids).</summary>
/// <param name="Time">When it polled.</param>
/// <param name="Processes">Per GPU UUID, its compute processes.</param>
public sealed record GpuPoll(DateTimeOffset Time, IReadOnlyDictionary<string, IReadOnlyList<NvmlProcess>> Processes);

/// <summary>What the bundle needs to know of a GPU: its device node and its MIG devices.</summary>
/// <param name="Index">NVML index.</param>
/// <param name="Uuid">"GPU-…".</param>
/// <param name="Model">Product name.</param>
/// <param name="Minor">The N of /dev/nvidiaN.</param>
/// <param name="MigDevices">Its MIG devices (empty outside MIG mode).</param>
public sealed record GpuDescription(int Index, string Uuid, string Model, int Minor, IReadOnlyList<MigDeviceDescription> MigDevices);

/// <summary>One MIG device as NVML describes it.</summary>
/// <param name="Uuid">"MIG-…".</param>
/// <param name="Profile">e.g. "3g.40gb".</param>
/// <param name="MemoryMib">Its memory.</param>
/// <param name="SliceCount">Compute slices out of 7.</param>
/// <param name="GpuInstanceId">Its GPU instance id (the MIG capability nodes are per GI and CI).</param>
/// <param name="ComputeInstanceId">Its compute instance id.</param>
public sealed record MigDeviceDescription(string Uuid, string Profile, long MemoryMib, int SliceCount, int GpuInstanceId, int ComputeInstanceId)
{
    /// <summary>Reads a MIG device handle; the profile comes from the device name's suffix ("… MIG 3g.40gb").</summary>
    public static MigDeviceDescription Read(NvmlDevice device)
    {
        var name = device.Name();
        var marker = name.LastIndexOf(" MIG ", StringComparison.Ordinal);
        var profile = marker >= 0 ? name[(marker + 5)..].Trim() : name;
        var slices = profile.Length > 1 && char.IsAsciiDigit(profile[0]) && profile[1] == 'g' ? profile[0] - '0' : 1;
        return new MigDeviceDescription(
            device.Uuid(),
            profile,
            device.Memory().TotalBytes / (1024 * 1024),
            slices,
            device.GpuInstanceId(),
            device.ComputeInstanceId());
    }
}
