using System.Collections.Concurrent;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.State;
using Eas.Node.Agent.Storage;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.Logging.Abstractions;

namespace Eas.Node.Agent.Tests.Storage;

public sealed class CacheStorageDriverTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eas-cache-driver-").FullName;
    private readonly ConcurrentQueue<string> _progress = new();
    private readonly CacheStorageDriver _driver;

    public CacheStorageDriverTests() => _driver = new CacheStorageDriver(Options(), new AgentPaths(Options()), NullLogger<CacheStorageDriver>.Instance, TimeProvider.System);

    private string Source => Path.Combine(_dir, "bucket");

    public void Dispose()
    {
        _driver.Cache.FlushAsync().GetAwaiter().GetResult();
        _driver.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Acquire_CachesThePathUnderAnotherEntry_InTheStateDir()
    {
        CacheTestFiles.Write(Path.Combine(Source, "models", "llama", "model.safetensors"), 2 << 20);
        CacheTestFiles.Write(Path.Combine(Source, "other.bin"), 100);

        var path = await _driver.AcquireAsync(Request("i-1", "/mnt/oss/models/llama"), CancellationToken.None);

        path.Should().StartWith(Path.Combine(_dir, "state", "cache") + "/");
        CacheTestFiles.Hashes(path).Should().BeEquivalentTo(CacheTestFiles.Hashes(Path.Combine(Source, "models", "llama")));
        _progress.Should().StartWith("cache: filling /mnt/model 0% (0/2 MiB, 1 files)");
        _progress.Last().Should().StartWith("cache: ready /mnt/model (2 MiB, 1 files, filled in ");
    }

    [Fact]
    public async Task Release_DropsTheInstanceFromItsEntries()
    {
        CacheTestFiles.Write(Path.Combine(Source, "w.bin"), 100);
        await _driver.AcquireAsync(Request("i-1", "/mnt/oss"), CancellationToken.None);
        await _driver.AcquireAsync(Request("i-2", "/mnt/oss"), CancellationToken.None);

        await _driver.ReleaseAsync("i-1", CancellationToken.None);

        _driver.Cache.Entries().Single().Users.Should().BeEquivalentTo("i-2");
    }

    [Fact]
    public async Task Acquire_SourceUnderNoEntry_FailsNamingThePath()
    {
        var act = () => _driver.AcquireAsync(Request("i-1", "/somewhere/else"), CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should().Be(
            "storage[1] (/mnt/model): cache.source_path '/somewhere/else' is under no other storage entry of the instance; mount the storage that holds it (oss, nfs, git or host) at a path above it");
    }

    [Fact]
    public async Task Acquire_OverTheNodeCapacity_NamesTheNodeSetting()
    {
        CacheTestFiles.Write(Path.Combine(Source, "w.bin"), 3 << 20);

        var act = () => _driver.AcquireAsync(Request("i-1", "/mnt/oss"), CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should().Contain(
            "more than the cache capacity of 2 MiB; raise Agent:Storage:CacheCapacityMib on the node (or set cache.capacity in the spec) to at least 3");
    }

    private Microsoft.Extensions.Options.IOptions<AgentOptions> Options() => Microsoft.Extensions.Options.Options.Create(new AgentOptions
    {
        StateDir = Path.Combine(_dir, "state"),
        Storage = new StorageOptions { CacheCapacityMib = 2, CacheFillParallelism = 2 },
    });

    private StorageRequest Request(string instanceId, string sourcePath)
    {
        var assignment = new InstanceAssignment { InstanceId = instanceId, Service = "svc", ServiceVersion = 1, Spec = new InstanceSpec() };
        var context = new InstanceContext(new InstanceRecord { Assignment = assignment }, new AgentPaths(Options())) { ReportProgress = _progress.Enqueue };
        var mount = new Mount { MountPath = "/mnt/model", ReadOnly = true, Cache = new CacheSource { SourcePath = sourcePath } };
        var resolved = new Dictionary<string, string>(StringComparer.Ordinal) { ["/mnt/oss"] = Source };
        return new StorageRequest(context, mount, 1, path => StorageMounts.MapToHost(resolved, path));
    }
}
