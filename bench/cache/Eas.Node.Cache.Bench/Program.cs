using System.Diagnostics;
using System.Globalization;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.State;
using Eas.Node.Agent.Storage;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.Logging.Abstractions;

// Usage: Eas.Node.Cache.Bench --oss-mount DIR --source-path /mnt/oss/PATH --state-dir DIR --instance ID [--parallelism N]
// One instance's cache entry (mount_path /mnt/model, cache.source_path PATH under an oss entry mounted at
// /mnt/oss, whose host path is DIR) acquired through CacheStorageDriver exactly as the storage hook does it,
// timed from the call to its return. A later run with the same state dir and another instance id reuses the
// entry. Prints the progress lines as they come, then one line: "result filled=… seconds=… bytes=… files=… path=…
// flush_seconds=…" (flush: the background flush of a new entry to disk, after the acquire returned).
string? ossMount = null, sourcePath = null, stateDir = null, instance = null;
var parallelism = new StorageOptions().CacheFillParallelism;
for (var i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--oss-mount": ossMount = args[i + 1]; break;
        case "--source-path": sourcePath = args[i + 1]; break;
        case "--state-dir": stateDir = args[i + 1]; break;
        case "--instance": instance = args[i + 1]; break;
        case "--parallelism": parallelism = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        default:
            Console.Error.WriteLine($"unknown argument '{args[i]}'");
            return 2;
    }
}

if (ossMount is null || sourcePath is null || stateDir is null || instance is null)
{
    Console.Error.WriteLine("usage: --oss-mount DIR --source-path /mnt/oss/PATH --state-dir DIR --instance ID [--parallelism N]");
    return 2;
}

var options = Microsoft.Extensions.Options.Options.Create(new AgentOptions
{
    StateDir = stateDir,
    Storage = new StorageOptions { CacheFillParallelism = parallelism },
});
using var driver = new CacheStorageDriver(options, new AgentPaths(options), NullLogger<CacheStorageDriver>.Instance, TimeProvider.System);
var watch = Stopwatch.StartNew();
var assignment = new InstanceAssignment { InstanceId = instance, Service = "bench_cache", ServiceVersion = 1, Spec = new InstanceSpec() };
var reused = false;
var context = new InstanceContext(new InstanceRecord { Assignment = assignment }, new AgentPaths(options))
{
    ReportProgress = line =>
    {
        reused |= line.EndsWith(", reused)", StringComparison.Ordinal);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {watch.Elapsed.TotalSeconds,6:0.00} s  {line}"));
    },
};
var mount = new Mount { MountPath = "/mnt/model", ReadOnly = true, Cache = new CacheSource { SourcePath = sourcePath } };
var resolved = new Dictionary<string, string>(StringComparer.Ordinal) { ["/mnt/oss"] = ossMount };
var request = new StorageRequest(context, mount, 1, path => StorageMounts.MapToHost(resolved, path));

watch.Restart();
string path;
try
{
    path = await driver.AcquireAsync(request, CancellationToken.None);
}
catch (InstanceFailedException ex)
{
    Console.Error.WriteLine("acquire failed: " + ex.Message);
    return 1;
}

var seconds = watch.Elapsed.TotalSeconds;
var entry = driver.Cache.Entries().Single(e => path.StartsWith(Path.Combine(driver.Cache.Dir, e.Key) + "/", StringComparison.Ordinal));
watch.Restart();
await driver.Cache.FlushAsync();
Console.WriteLine(string.Create(
    CultureInfo.InvariantCulture,
    $"result filled={(reused ? "false" : "true")} seconds={seconds:0.000} bytes={entry.Bytes} files={entry.Files} path={path} flush_seconds={watch.Elapsed.TotalSeconds:0.000}"));
return 0;
