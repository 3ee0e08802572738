using System.Globalization;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.Runtime;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Eas.Node.Agent.Storage;

/// <summary>
/// oss storage: an S3-compatible bucket (or a folder in it) mounted with s3fs-fuse once per node per
/// (endpoint, bucket, folder, credential name, read-only), at <c>&lt;StateDir&gt;/mounts/oss-&lt;hash&gt;</c>, and
/// shared by every instance that mounts the same source (<see cref="SharedHostMounts"/>). s3fs runs as a daemon
/// (not the agent's child, so it outlives an agent restart); its password file (mode 0600) and log sit beside
/// the mount. The last instance to release the source unmounts it and stops its s3fs.
/// </summary>
public sealed class OssStorageDriver : IStorageDriver
{
    private const string FuseType = "fuse.s3fs";

    private readonly StorageOptions _options;
    private readonly ICommandRunner _runner;
    private readonly ILogger _logger;

    /// <summary>Creates the driver over the agent's state directory and Agent:Storage settings.</summary>
    public OssStorageDriver(IOptions<AgentOptions> options, ICommandRunner runner, ILogger<OssStorageDriver> logger)
    {
        _options = options.Value.Storage;
        _runner = runner;
        _logger = logger;
        Mounts = new SharedHostMounts(options.Value.StateDir, "oss", runner, logger, AfterUnmountAsync);
    }

    /// <inheritdoc/>
    public Mount.SourceOneofCase Kind => Mount.SourceOneofCase.Oss;

    /// <summary>The shared mounts (keys, paths, users).</summary>
    public SharedHostMounts Mounts { get; }

    /// <summary>How long s3fs may take to mount and answer a first listing.</summary>
    public TimeSpan MountTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <inheritdoc/>
    public async Task<string> AcquireAsync(StorageRequest request, CancellationToken cancellationToken)
    {
        var oss = request.Mount.Oss;
        var (url, where) = Endpoint(request);
        if (!OssMountOptions.IsBucket(oss.Bucket) || oss.Prefix.Contains(',', StringComparison.Ordinal) || oss.Prefix.Any(char.IsControl))
        {
            throw new InstanceFailedException($"{request.Name}: \"oss://{oss.Bucket}/{oss.Prefix}\" is not a bucket and folder s3fs can mount; write oss.path as \"oss://bucket/folder/\" with a lowercase bucket name");
        }

        var credential = OssCredentials.Load(_options.SecretsFile, oss.Secret, request.Name);
        var secretName = oss.Secret.Length > 0 ? oss.Secret : OssCredentials.DefaultName;
        var key = Mounts.KeyOf(url, oss.Bucket, oss.Prefix.Trim('/'), secretName, request.Mount.ReadOnly ? "ro" : "rw");
        return await Mounts.AcquireAsync(
            key,
            request.Context.InstanceId,
            (path, token) => MountAsync(request, url, where, credential, key, path, token),
            cancellationToken);
    }

    /// <inheritdoc/>
    public Task ReleaseAsync(string instanceId, CancellationToken cancellationToken) => Mounts.ReleaseAsync(instanceId, cancellationToken);

    /// <summary>Pids of the s3fs daemons serving <paramref name="mountPath"/> (zombies excluded).</summary>
    public static IReadOnlyList<int> DaemonsFor(string mountPath) => HostProcesses.Find(argv => IsS3fs(argv) && argv.Contains(mountPath, StringComparer.Ordinal));

    /// <summary>Stops every s3fs daemon that serves a mount under <paramref name="mountsDir"/> (for <c>eas-agent cleanup</c>).</summary>
    public static Task StopDaemonsAsync(string mountsDir, CancellationToken cancellationToken)
    {
        var prefix = mountsDir.TrimEnd('/') + "/";
        return HostProcesses.StopAsync(argv => IsS3fs(argv) && argv.Any(a => a.StartsWith(prefix, StringComparison.Ordinal)), TimeSpan.FromSeconds(2), cancellationToken);
    }

    private static bool IsS3fs(IReadOnlyList<string> argv) => Path.GetFileName(argv[0]).Contains("s3fs", StringComparison.Ordinal);

    /// <summary>The endpoint URL, and how errors name the source.</summary>
    private (string Url, string Where) Endpoint(StorageRequest request)
    {
        var oss = request.Mount.Oss;
        var fromSpec = oss.Endpoint.Trim().Length > 0;
        var configured = fromSpec ? oss.Endpoint : _options.OssEndpoint;
        var source = $"oss://{oss.Bucket}/{oss.Prefix.Trim('/')}";
        if (configured.Trim().Length == 0)
        {
            throw new InstanceFailedException($"{request.Name}: {source} names no endpoint and the node has no default; set \"endpoint\" in the oss entry (e.g. \"https://s3.example.com\") or Agent:Storage:OssEndpoint in the node's config");
        }

        var url = OssMountOptions.EndpointUrl(configured) ?? throw new InstanceFailedException(
            $"{request.Name}: endpoint \"{configured}\" ({(fromSpec ? "oss.endpoint" : "Agent:Storage:OssEndpoint")}) is not \"host[:port]\" or an http(s) URL with no path; write e.g. \"minio.internal:9000\" or \"http://10.0.0.5:9000\"");
        return (url, $"{source} at {url}");
    }

    private async Task MountAsync(StorageRequest request, string url, string where, OssCredential credential, string key, string path, CancellationToken cancellationToken)
    {
        var oss = request.Mount.Oss;
        var passwordFile = PasswordFile(key);
        var logFile = LogFile(key);
        WritePasswordFile(passwordFile, credential);
        File.Delete(logFile);

        string options;
        try
        {
            options = OssMountOptions.Options(url, passwordFile, logFile, request.Mount.ReadOnly);
        }
        catch (ArgumentException ex)
        {
            throw new InstanceFailedException($"{request.Name}: {ex.Message}");
        }

        // Daemonized s3fs: its parent returns once the FUSE mount exists; it then checks the bucket and either
        // serves it or exits, writing why to the log file (and nothing to our pipes).
        var result = await _runner.RunAsync(
            _options.S3fs,
            [OssMountOptions.Source(oss.Bucket, oss.Prefix), path, "-o", options],
            new CommandOptions { Timeout = TimeSpan.FromSeconds(30) },
            cancellationToken);
        if (result.ExitCode == 127)
        {
            throw new InstanceFailedException($"{request.Name}: cannot run {_options.S3fs} (Agent:Storage:S3fs) to mount {where}; install s3fs-fuse on the node (apt-get install s3fs) or point Agent:Storage:S3fs at it");
        }

        if (!result.Succeeded)
        {
            throw Failure(request, where, credential, key, result.Stdout + "\n" + result.Stderr);
        }

        await WaitUntilLiveAsync(request, where, credential, key, path, cancellationToken);
        SharedHostMountsLog.Mounted(_logger, where, path);
    }

    /// <summary>Until the mount shows in mountinfo as fuse.s3fs and a listing of it works; s3fs exiting or the timeout fails.</summary>
    private async Task WaitUntilLiveAsync(StorageRequest request, string where, OssCredential credential, string key, string path, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + MountTimeout;
        while (true)
        {
            if (HostMountTable.TypeAt(path) == FuseType)
            {
                // The first request waits for s3fs's check of the bucket; it fails (ECONNABORTED, ENOTCONN) when the check does.
                var listing = Task.Run(() => List(path), CancellationToken.None);
                var remaining = deadline - DateTime.UtcNow;
                var finished = await Task.WhenAny(listing, Task.Delay(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, cancellationToken));
                if (finished != listing)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    throw TimedOut(request, where, credential, key);
                }

                if (await listing is not { } problem)
                {
                    return;
                }

                await WaitForExitAsync(path);
                throw Failure(request, where, credential, key, problem);
            }

            if (DaemonsFor(path).Count == 0)
            {
                throw Failure(request, where, credential, key, "");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw TimedOut(request, where, credential, key);
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>null when <paramref name="path"/> can be listed, else why not.</summary>
    private static string? List(string path)
    {
        try
        {
            _ = Directory.EnumerateFileSystemEntries(path).Take(1).ToList();
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return ex.Message;
        }
    }

    /// <summary>s3fs writes its last words before it exits; give it a moment so the log is complete.</summary>
    private static async Task WaitForExitAsync(string path)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(3);
        while (DaemonsFor(path).Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
    }

    private InstanceFailedException Failure(StorageRequest request, string where, OssCredential credential, string key, string output)
    {
        var said = OssMountOptions.Summarize(ReadLog(key), output, [credential.SecretAccessKey, credential.AccessKeyId]);
        var secret = request.Mount.Oss.Secret.Length > 0 ? request.Mount.Oss.Secret : OssCredentials.DefaultName;
        return new InstanceFailedException(
            $"{request.Name}: s3fs cannot mount {where}: {said}; check the endpoint, that the bucket (and folder) exist there, and credential \"{secret}\" in {_options.SecretsFile}");
    }

    private InstanceFailedException TimedOut(StorageRequest request, string where, OssCredential credential, string key)
    {
        var said = OssMountOptions.Summarize(ReadLog(key), "", [credential.SecretAccessKey, credential.AccessKeyId]);
        return new InstanceFailedException(string.Create(
            CultureInfo.InvariantCulture,
            $"{request.Name}: s3fs did not finish mounting {where} within {MountTimeout.TotalSeconds:0} s (s3fs said: {said}); check that the endpoint is reachable from the node"));
    }

    private string ReadLog(string key)
    {
        try
        {
            return File.Exists(LogFile(key)) ? File.ReadAllText(LogFile(key)) : "";
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>After the mount is gone (or found dead): s3fs exits by itself on unmount; stop it if it does not, then remove its files.</summary>
    private async Task AfterUnmountAsync(string key, string path, CancellationToken cancellationToken)
    {
        await HostProcesses.StopAsync(argv => IsS3fs(argv) && argv.Contains(path, StringComparer.Ordinal), TimeSpan.FromSeconds(5), cancellationToken);
        File.Delete(PasswordFile(key));
        File.Delete(LogFile(key));
    }

    private string PasswordFile(string key) => Path.Combine(Mounts.Dir, key + ".passwd");

    private string LogFile(string key) => Path.Combine(Mounts.Dir, key + ".log");

    /// <summary>"ACCESS:SECRET" in a file only root can read (s3fs refuses one that others can).</summary>
    private static void WritePasswordFile(string file, OssCredential credential)
    {
        File.Delete(file);
        using var stream = new FileStream(file, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        stream.Write(System.Text.Encoding.UTF8.GetBytes($"{credential.AccessKeyId}:{credential.SecretAccessKey}\n"));
    }
}
