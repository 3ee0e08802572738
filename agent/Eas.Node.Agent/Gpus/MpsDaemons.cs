using System.Diagnostics;
using System.Globalization;
using Eas.Node.Agent.Interop;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.State;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Eas.Node.Agent.Gpus;

/// <summary>
/// One MPS control daemon per shared GPU (<c>nvidia-cuda-mps-control -f</c>), started when the first
/// shared instance on that GPU starts and stopped once none is left. Each daemon has its own pipe and
/// log directory under the state dir, which shared instances mount. A daemon outlives an agent restart
/// (instances keep running too); the agent adopts it again through the pid file in its pipe directory.
/// </summary>
public sealed class MpsDaemons(IOptions<AgentOptions> options, AgentPaths paths, ILogger<MpsDaemons> logger) : IDisposable
{
    /// <summary>The pid file the control daemon writes in its pipe directory.</summary>
    public const string PidFileName = "nvidia-cuda-mps-control.pid";

    private readonly GpuOptions _options = options.Value.Gpu;
    private readonly Dictionary<string, Process> _started = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>The pipe directory of the GPU's daemon (CUDA_MPS_PIPE_DIRECTORY).</summary>
    public string PipeDirectory(string gpuUuid) => Path.Combine(paths.Root, "mps", gpuUuid, "pipe");

    /// <summary>The log directory of the GPU's daemon (CUDA_MPS_LOG_DIRECTORY).</summary>
    public string LogDirectory(string gpuUuid) => Path.Combine(paths.Root, "mps", gpuUuid, "log");

    /// <summary>Starts the GPU's daemon unless it runs; throws when it cannot be started.</summary>
    /// <exception cref="InvalidOperationException">The MPS control binary is missing or exits at once.</exception>
    public async Task EnsureAsync(string gpuUuid, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (RunningPid(gpuUuid) is not null)
            {
                return;
            }

            if (!File.Exists(_options.MpsControl))
            {
                throw new InvalidOperationException(
                    $"the MPS control daemon {_options.MpsControl} is not installed, so GPU {gpuUuid} cannot be shared; install the NVIDIA CUDA MPS tools or set Agent:Gpu:MpsControl");
            }

            var pipe = PipeDirectory(gpuUuid);
            var log = LogDirectory(gpuUuid);
            Directory.CreateDirectory(pipe);
            Directory.CreateDirectory(log);
            var start = new ProcessStartInfo(_options.MpsControl, ["-f"])
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = false,
                RedirectStandardError = false,
            };
            start.Environment["CUDA_VISIBLE_DEVICES"] = gpuUuid;
            start.Environment["CUDA_MPS_PIPE_DIRECTORY"] = pipe;
            start.Environment["CUDA_MPS_LOG_DIRECTORY"] = log;
            var process = Process.Start(start) ?? throw new InvalidOperationException($"{_options.MpsControl} did not start");
            _started[gpuUuid] = process;

            // The daemon is ready once it has written its pid file; one that exits at once is broken.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
            while (!File.Exists(Path.Combine(pipe, PidFileName)) && DateTime.UtcNow < deadline)
            {
                if (process.HasExited)
                {
                    _started.Remove(gpuUuid);
                    throw new InvalidOperationException(
                        string.Create(CultureInfo.InvariantCulture, $"the MPS control daemon for GPU {gpuUuid} exited with code {process.ExitCode}; see {log}/control.log"));
                }

                await Task.Delay(20, cancellationToken);
            }

            GpuLog.MpsStarted(logger, gpuUuid, process.Id);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Stops the daemons of GPUs that no shared instance uses any more.</summary>
    public async Task RetainOnlyAsync(IReadOnlySet<string> neededGpus, CancellationToken cancellationToken)
    {
        var root = Path.Combine(paths.Root, "mps");
        if (!Directory.Exists(root))
        {
            return;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            foreach (var dir in Directory.GetDirectories(root))
            {
                var uuid = Path.GetFileName(dir);
                if (neededGpus.Contains(uuid))
                {
                    continue;
                }

                if (RunningPid(uuid) is { } pid)
                {
                    Signals.Send(pid, Signals.Term);
                    for (var i = 0; i < 100 && Signals.IsAlive(pid); i++)
                    {
                        await Task.Delay(20, cancellationToken);
                    }

                    if (Signals.IsAlive(pid))
                    {
                        Signals.Send(pid, Signals.Kill);
                    }

                    GpuLog.MpsStopped(logger, uuid);
                }

                if (_started.Remove(uuid, out var process))
                {
                    process.Dispose();
                }

                Directory.Delete(dir, recursive: true);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The daemon's pid when it runs (started here, or adopted from its pid file after an agent restart).</summary>
    public int? RunningPid(string gpuUuid)
    {
        if (_started.TryGetValue(gpuUuid, out var process))
        {
            if (!process.HasExited)
            {
                return process.Id;
            }

            _started.Remove(gpuUuid);
            process.Dispose();
            GpuLog.MpsExited(logger, gpuUuid);
        }

        var pidFile = Path.Combine(PipeDirectory(gpuUuid), PidFileName);
        return File.Exists(pidFile)
            && int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid)
            && Signals.IsAlive(pid)
            ? pid
            : null;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        // Daemons keep running with the instances that use them; only the handles go.
        foreach (var process in _started.Values)
        {
            process.Dispose();
        }

        _gate.Dispose();
    }
}
