using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.Runtime;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Eas.Node.Agent.Storage;

/// <summary>
/// nfs storage: a kernel NFS mount (<c>mount -t nfs</c>, <see cref="NfsMountCommand.Options"/>) once per node per
/// (server, path, read-only) at <c>&lt;StateDir&gt;/mounts/nfs-&lt;hash&gt;</c>, shared by every instance that mounts
/// the same export (<see cref="SharedHostMounts"/>) and unmounted when the last one releases it.
/// </summary>
public sealed class NfsStorageDriver : IStorageDriver
{
    private readonly ICommandRunner _runner;
    private readonly ILogger _logger;

    /// <summary>Creates the driver over the agent's state directory.</summary>
    public NfsStorageDriver(IOptions<AgentOptions> options, ICommandRunner runner, ILogger<NfsStorageDriver> logger)
    {
        _runner = runner;
        _logger = logger;
        Mounts = new SharedHostMounts(options.Value.StateDir, "nfs", runner, logger);
    }

    /// <inheritdoc/>
    public Mount.SourceOneofCase Kind => Mount.SourceOneofCase.Nfs;

    /// <summary>The shared mounts (keys, paths, users).</summary>
    public SharedHostMounts Mounts { get; }

    /// <summary>How long mount(8) may take (a server that does not answer makes it retry).</summary>
    public TimeSpan MountTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <inheritdoc/>
    public async Task<string> AcquireAsync(StorageRequest request, CancellationToken cancellationToken)
    {
        var nfs = request.Mount.Nfs;
        var server = nfs.Server.Trim();
        var exportPath = nfs.Path.Trim().Length > 0 ? nfs.Path.Trim() : "/";
        if (!NfsMountCommand.IsServer(server))
        {
            throw new InstanceFailedException($"{request.Name}: nfs.server \"{server}\" is not a host name or IP address; write e.g. \"nfs.internal\" or \"10.0.0.5\"");
        }

        if (!exportPath.StartsWith('/') || exportPath.Any(char.IsControl))
        {
            throw new InstanceFailedException($"{request.Name}: nfs.path \"{exportPath}\" is not an absolute path on the server; write e.g. \"/exports/models\"");
        }

        var readOnly = request.Mount.ReadOnly;
        var key = Mounts.KeyOf(server, exportPath, readOnly ? "ro" : "rw");
        return await Mounts.AcquireAsync(
            key,
            request.Context.InstanceId,
            (path, token) => MountAsync(request, server, exportPath, readOnly, path, token),
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task ReleaseAsync(string instanceId, CancellationToken cancellationToken) => Mounts.ReleaseAsync(instanceId, cancellationToken);

    /// <summary>The mount helper nfs-common installs.</summary>
    private const string MountHelper = "/sbin/mount.nfs";

    /// <summary>Why this kernel cannot mount NFS at all (no "nfs" in /proc/filesystems and no module to load); null when it can.</summary>
    public static string? MissingKernelClient(string filesystems = "/proc/filesystems")
    {
        var types = File.ReadLines(filesystems).Select(l => l.Split('\t', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault());
        return types.Any(t => t is "nfs" or "nfs4") ? null : "this kernel has no NFS client (no nfs in /proc/filesystems)";
    }

    private async Task MountAsync(StorageRequest request, string server, string exportPath, bool readOnly, string path, CancellationToken cancellationToken)
    {
        var source = NfsMountCommand.Source(server, exportPath);
        var result = await _runner.RunAsync("mount", NfsMountCommand.Arguments(server, exportPath, path, readOnly), new CommandOptions { Timeout = MountTimeout }, cancellationToken);
        if (!result.Succeeded)
        {
            var said = result.Tail(5).Replace('\n', ' ');
            var hint = MissingKernelClient() is { } missing
                ? $"{missing}: {(File.Exists(MountHelper) ? "load the kernel's NFS client (modprobe nfs; mount.nfs is installed)" : "install the node's NFS client (apt-get install nfs-common)")} or schedule the service on nodes that have one"
                : $"check that {server} is reachable from the node and exports {exportPath} to it";
            throw new InstanceFailedException($"{request.Name}: cannot mount NFS export {source}: {(said.Length > 0 ? said : $"mount exited with {result.ExitCode}")}; {hint}");
        }

        SharedHostMountsLog.Mounted(_logger, source, path);
    }
}
