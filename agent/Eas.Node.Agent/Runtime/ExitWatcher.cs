using System.Collections.Concurrent;
using Eas.Node.Agent.State;

namespace Eas.Node.Agent.Runtime;

/// <summary>
/// Watches the exit directory conmon writes to (one inotify watch for all instances) and wakes whoever
/// waits for a container's exit file, so an exit is noticed at once without polling.
/// </summary>
public sealed class ExitWatcher : IDisposable
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiters = new(StringComparer.Ordinal);
    private readonly AgentPaths _paths;
    private readonly Lock _gate = new();
    private FileSystemWatcher? _watcher;

    /// <summary>Creates the watcher; it starts on first use.</summary>
    public ExitWatcher(AgentPaths paths) => _paths = paths;

    /// <summary>Completes when the exit file of <paramref name="containerId"/> exists.</summary>
    public async Task WaitAsync(string containerId, CancellationToken cancellationToken)
    {
        EnsureStarted();
        var waiter = _waiters.GetOrAdd(containerId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            // Registered first, checked second: an exit that landed before the registration is still seen.
            if (File.Exists(_paths.ExitFile(containerId)))
            {
                return;
            }

            await waiter.Task.WaitAsync(cancellationToken);
        }
        finally
        {
            _waiters.TryRemove(new KeyValuePair<string, TaskCompletionSource>(containerId, waiter));
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_gate)
        {
            _watcher?.Dispose();
            _watcher = null;
        }
    }

    private void EnsureStarted()
    {
        lock (_gate)
        {
            if (_watcher is not null)
            {
                return;
            }

            Directory.CreateDirectory(_paths.Exits);
            _watcher = new FileSystemWatcher(_paths.Exits)
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite,
                IncludeSubdirectories = false,
            };
            _watcher.Created += OnChanged;
            _watcher.Changed += OnChanged;
            _watcher.Renamed += OnChanged;
            _watcher.EnableRaisingEvents = true;
        }
    }

    private void OnChanged(object sender, FileSystemEventArgs e)
    {
        if (e.Name is { } name && _waiters.TryGetValue(name, out var waiter))
        {
            waiter.TrySetResult();
        }
    }
}
