using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Interop;

namespace Eas.Node.Agent.Storage;

/// <summary>Resolves the instance's mounts before the bundle is written; on stop, detaches anything still mounted under the instance directory.</summary>
public sealed class StorageHook : IPrestartHook, IStopHook
{
    /// <inheritdoc/>
    public string Name => "storage";

    /// <inheritdoc/>
    public Task PrestartAsync(InstanceContext context, CancellationToken cancellationToken)
    {
        var spec = context.Assignment.Spec ?? new();
        StorageMounts.CreateEmptyDirs(spec, context.Dir);
        context.Mounts.Clear();
        context.Mounts.AddRange(StorageMounts.Resolve(spec, context.Dir));
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task StopAsync(InstanceContext context, CancellationToken cancellationToken)
    {
        // runc mounts inside the container's own mount namespace, so normally nothing is mounted here on the
        // host; this catches what a crashed runc or an operator left behind, deepest first.
        foreach (var mountPoint in MountsUnder(context.Dir).OrderByDescending(p => p.Length))
        {
            Mounts.Detach(mountPoint);
        }

        return Task.CompletedTask;
    }

    /// <summary>Mount points at or below <paramref name="dir"/>, from /proc/self/mountinfo.</summary>
    internal static IReadOnlyList<string> MountsUnder(string dir)
    {
        var prefix = dir.TrimEnd('/') + "/";
        var found = new List<string>();
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            // id parent major:minor root mount-point ...; octal escapes (\040) for spaces.
            var fields = line.Split(' ');
            if (fields.Length > 4)
            {
                var mountPoint = fields[4].Replace("\\040", " ", StringComparison.Ordinal);
                if (mountPoint == dir || mountPoint.StartsWith(prefix, StringComparison.Ordinal))
                {
                    found.Add(mountPoint);
                }
            }
        }

        return found;
    }
}
