using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.Runtime;
using Eas.Node.Agent.State;
using Eas.Node.Agent.Storage;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.Logging.Abstractions;

namespace Eas.Node.Agent.Tests.Storage;

/// <summary>A fact that needs root (the secrets file must be root's); skipped with the reason otherwise.</summary>
public sealed class OssRootFactAttribute : FactAttribute
{
    public OssRootFactAttribute()
    {
        if (OssTestEnvironment.MissingRoot() is { } missing)
        {
            Skip = missing;
            Console.WriteLine($"SKIP oss test: {missing}");
        }
    }
}

/// <summary>A fact that mounts a real bucket: root, /dev/fuse, s3fs, node and s3rver (scripts/install-test-tools.sh).</summary>
public sealed class S3fsFactAttribute : FactAttribute
{
    public S3fsFactAttribute()
    {
        if (OssTestEnvironment.MissingForS3fs() is { } missing)
        {
            Skip = missing;
            Console.WriteLine($"SKIP oss test: {missing}");
        }
    }
}

internal static partial class OssTestEnvironment
{
    public const string S3fs = "/usr/bin/s3fs";

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string S3rverScript => Path.Combine(RepoRoot, "tests", "tools", "node_modules", "s3rver", "bin", "s3rver.js");

    public static string? MissingRoot() => Tmds.Linux.LibC.geteuid() == 0 ? null : "needs root (the secrets file must be owned by root; s3fs mounts)";

    public static string? MissingForS3fs()
    {
        if (MissingRoot() is { } root)
        {
            return root;
        }

        if (!File.Exists("/dev/fuse"))
        {
            return "/dev/fuse is missing (no FUSE in this kernel or container)";
        }

        if (!File.Exists(S3fs))
        {
            return $"{S3fs} is not installed (apt-get install s3fs)";
        }

        if (FindNode() is null)
        {
            return "node is not installed (apt-get install nodejs npm)";
        }

        if (!File.Exists(S3rverScript))
        {
            return $"s3rver is not installed at {S3rverScript}; run scripts/install-test-tools.sh";
        }

        return null;
    }

    public static string? FindNode() => new[] { "/usr/bin/node", "/usr/local/bin/node" }.FirstOrDefault(File.Exists);

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Eas.Node.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Eas.Node.sln above {AppContext.BaseDirectory}: run the tests from the repository checkout");
    }
}

/// <summary>s3rver on 127.0.0.1 with a free port and a temporary data directory; killed on dispose.</summary>
internal sealed partial class S3rver : IAsyncDisposable
{
    /// <summary>s3rver's only account.</summary>
    public const string AccessKeyId = "S3RVER";

    public const string SecretAccessKey = "S3RVER";

    private readonly Process _process;
    private readonly string _dataDir;
    private readonly HttpClient _http = new();

    private S3rver(Process process, string dataDir, int port)
    {
        _process = process;
        _dataDir = dataDir;
        Endpoint = $"http://127.0.0.1:{port}";
    }

    public string Endpoint { get; }

    public static async Task<S3rver> StartAsync(params string[] buckets)
    {
        var dataDir = Directory.CreateTempSubdirectory("eas-s3rver-").FullName;
        var start = new ProcessStartInfo(OssTestEnvironment.FindNode()!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { OssTestEnvironment.S3rverScript, "-d", dataDir, "-a", "127.0.0.1", "-p", "0", "--silent" })
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var bucket in buckets)
        {
            start.ArgumentList.Add("--configure-bucket");
            start.ArgumentList.Add(bucket);
        }

        var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (ListeningPattern().Match(line) is { Success: true } match)
                {
                    // Keep draining stdout so s3rver never blocks on a full pipe.
                    _ = process.StandardOutput.ReadToEndAsync();
                    return new S3rver(process, dataDir, int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
                }
            }

            throw new InvalidOperationException($"s3rver exited before listening: {await errors}");
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            Directory.Delete(dataDir, recursive: true);
            throw;
        }
    }

    /// <summary>Stores an object with a plain (anonymous) PUT; s3rver accepts those.</summary>
    public async Task PutAsync(string bucket, string key, byte[] content)
    {
        using var body = new ByteArrayContent(content);
        using var response = await _http.PutAsync(new Uri($"{Endpoint}/{bucket}/{key}"), body);
        response.EnsureSuccessStatusCode();
    }

    public Task PutAsync(string bucket, string key, string content) => PutAsync(bucket, key, Encoding.UTF8.GetBytes(content));

    /// <summary>The object's bytes, or null when it does not exist.</summary>
    public async Task<byte[]?> GetAsync(string bucket, string key)
    {
        using var response = await _http.GetAsync(new Uri($"{Endpoint}/{bucket}/{key}"));
        return response.IsSuccessStatusCode ? await response.Content.ReadAsByteArrayAsync() : null;
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Directory.Delete(_dataDir, recursive: true);
    }

    [GeneratedRegex(@"listening on [^\s:]+:(\d+)")]
    private static partial Regex ListeningPattern();
}

/// <summary>
/// A state directory, a secrets file and drivers over them; on dispose, everything mounted under the state
/// directory is unmounted, its s3fs daemons stopped (<c>eas-agent cleanup</c>'s own code) and the directory removed.
/// </summary>
internal sealed class OssTestWorld : IAsyncDisposable
{
    public OssTestWorld()
    {
        StateDir = Directory.CreateTempSubdirectory("eas-oss-state-").FullName;
        SecretsFile = Path.Combine(StateDir, "storage-secrets.json");
    }

    public string StateDir { get; }

    public string SecretsFile { get; }

    public string MountsDir => SharedHostMounts.MountsDir(StateDir);

    /// <summary>Writes the secrets file (mode 0600 unless told otherwise).</summary>
    public void WriteSecrets(string json, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite)
    {
        File.WriteAllText(SecretsFile, json);
        File.SetUnixFileMode(SecretsFile, mode);
    }

    public void WriteSecrets(string accessKeyId, string secretAccessKey, string name = "default") => WriteSecrets(
        $$$"""{"{{{name}}}": {"accessKeyId": "{{{accessKeyId}}}", "secretAccessKey": "{{{secretAccessKey}}}"}}""");

    /// <summary>A driver as the agent makes it; a second call is what an agent restart makes.</summary>
    public OssStorageDriver Driver(string nodeEndpoint = "") => new(
        Microsoft.Extensions.Options.Options.Create(new AgentOptions
        {
            StateDir = StateDir,
            Storage = new StorageOptions { SecretsFile = SecretsFile, OssEndpoint = nodeEndpoint, S3fs = OssTestEnvironment.S3fs },
        }),
        new CommandRunner(),
        NullLogger<OssStorageDriver>.Instance);

    public StorageRequest Request(string instanceId, OssSource source, bool readOnly = true, int index = 0, string mountPath = "/mnt/data")
    {
        var paths = new AgentPaths(Microsoft.Extensions.Options.Options.Create(new AgentOptions { StateDir = StateDir }));
        var assignment = new InstanceAssignment { InstanceId = instanceId, Service = "svc", ServiceVersion = 1, Spec = new InstanceSpec() };
        var mount = new Mount { MountPath = mountPath, ReadOnly = readOnly, Oss = source };
        return new StorageRequest(new InstanceContext(new InstanceRecord { Assignment = assignment }, paths), mount, index, _ => null);
    }

    public async ValueTask DisposeAsync()
    {
        await SharedHostMounts.CleanupAsync(StateDir, NullLogger.Instance, CancellationToken.None);
        if (HostMountTable.MountPointsUnder(StateDir).Count == 0)
        {
            Directory.Delete(StateDir, recursive: true);
        }
    }
}
