using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Eas.Node.Agent.Tests.Storage;

public sealed partial class CacheNodeTests : IDisposable
{
    private const int MiB = 1 << 20;
    private readonly string _dir = Directory.CreateTempSubdirectory("eas-cache-").FullName;
    private readonly CountingSourceFiles _files = new();
    private readonly ConcurrentQueue<string> _progress = new();
    private readonly List<NodeCache> _caches = [];

    private string Source => Path.Combine(_dir, "source");

    private string CacheDir => Path.Combine(_dir, "cache");

    public void Dispose()
    {
        foreach (var cache in _caches)
        {
            cache.FlushAsync().GetAwaiter().GetResult();
            cache.Dispose();
        }

        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Fill_NestedTree_CopiesIdenticalBytesReadOnlyWithLinks()
    {
        CacheTestFiles.Write(Path.Combine(Source, "config.json"), 300);
        CacheTestFiles.Write(Path.Combine(Source, "weights", "model-00001.safetensors"), (20 * MiB) + 12345);
        CacheTestFiles.Write(Path.Combine(Source, "weights", "deep", "er", "tokenizer.bin"), 70_000);
        File.WriteAllBytes(Path.Combine(Source, "weights", "empty"), []);
        File.SetUnixFileMode(Path.Combine(Source, "config.json"), (UnixFileMode)Convert.ToInt32("755", 8));
        File.CreateSymbolicLink(Path.Combine(Source, "latest"), "weights/model-00001.safetensors");

        var lease = await Cache(parallelism: 4).AcquireAsync(Request("i-1"), _progress.Enqueue, CancellationToken.None);

        lease.Filled.Should().BeTrue();
        lease.Files.Should().Be(4);
        CacheTestFiles.Hashes(lease.Path).Should().BeEquivalentTo(CacheTestFiles.Hashes(Source));
        File.ReadAllBytes(Path.Combine(lease.Path, "latest")).Should().Equal(File.ReadAllBytes(Path.Combine(Source, "weights", "model-00001.safetensors")));
        new FileInfo(Path.Combine(lease.Path, "latest")).LinkTarget.Should().Be("weights/model-00001.safetensors");
        foreach (var file in Directory.EnumerateFiles(lease.Path, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint }))
        {
            (File.GetUnixFileMode(file) & (UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)).Should().Be(UnixFileMode.None, $"{file} is shared read-only");
        }

        File.GetUnixFileMode(Path.Combine(lease.Path, "config.json")).Should().Be((UnixFileMode)Convert.ToInt32("555", 8), "execute bits are kept");
        _files.BytesRead.Should().Be((20 * MiB) + 12345 + 300 + 70_000, "each byte is read once");
    }

    [Fact]
    public async Task Fill_BigFile_IsReadAtSeveralOffsetsAtOnce()
    {
        CacheTestFiles.Write(Path.Combine(Source, "model.bin"), 64 * MiB);
        _files.BeforeRead = () => Thread.Sleep(5);

        var lease = await Cache(parallelism: 4).AcquireAsync(Request("i-1"), _progress.Enqueue, CancellationToken.None);

        _files.MaxInFlight.Should().BeGreaterThan(1, "one file is split into ranges read in parallel");
        _files.Opens.Should().Be(1, "the ranges share one handle");
        CacheTestFiles.Hashes(lease.Path).Should().BeEquivalentTo(CacheTestFiles.Hashes(Source));
    }

    [Theory]
    [InlineData(1L << 30, 8, 32L << 20)]
    [InlineData(20L << 20, 4, 8L << 20)]
    [InlineData(100L << 30, 8, 64L << 20)]
    public void ChunkSize_IsAboutFourRangesPerReaderWithin8To64MiB(long size, int readers, long expected)
        => CacheFill.ChunkSize(size, readers).Should().Be(expected);

    [Fact]
    public async Task SecondAcquire_ReusesTheEntryWithoutReadingTheSource()
    {
        CacheTestFiles.Write(Path.Combine(Source, "a", "model.bin"), 3 * MiB);
        CacheTestFiles.Write(Path.Combine(Source, "b.txt"), 10);
        var cache = Cache();
        var first = await cache.AcquireAsync(Request("i-1"), _progress.Enqueue, CancellationToken.None);
        _files.Reset();
        _progress.Clear();

        var second = await Cache().AcquireAsync(Request("i-2"), _progress.Enqueue, CancellationToken.None);

        second.Filled.Should().BeFalse();
        second.Path.Should().Be(first.Path);
        (_files.Walks, _files.Opens, _files.BytesRead).Should().Be((0, 0, 0L), "a complete entry is served without listing or reading the source");
        _progress.Should().Equal("cache: ready /mnt/model (4 MiB, 2 files, reused)");
        cache.Entries().Single().Users.Should().BeEquivalentTo("i-1", "i-2");
    }

    [Fact]
    public async Task ConcurrentAcquires_WaitForOneFill()
    {
        CacheTestFiles.Write(Path.Combine(Source, "model.bin"), 4 * MiB);
        using var hold = new ManualResetEventSlim();
        _files.BeforeRead = () => hold.Wait(TimeSpan.FromSeconds(30));
        var cache = Cache();
        var waiting = new ConcurrentQueue<string>();

        var first = Task.Run(() => cache.AcquireAsync(Request("i-1"), _progress.Enqueue, CancellationToken.None));
        await Until(() => _files.Opens == 1);
        var second = Task.Run(() => cache.AcquireAsync(Request("i-2"), waiting.Enqueue, CancellationToken.None));
        await Until(() => !waiting.IsEmpty);
        hold.Set();
        var leases = await Task.WhenAll(first, second);

        waiting.Should().StartWith("cache: waiting for another instance filling /mnt/model");
        leases.Select(l => l.Filled).Should().Equal(true, false);
        leases[1].Path.Should().Be(leases[0].Path);
        (_files.Walks, _files.BytesRead).Should().Be((1, 4L * MiB), "the source is listed and read once");
    }

    [Fact]
    public async Task Fill_WaitsForTheKeysLockFileHeldElsewhere()
    {
        CacheTestFiles.Write(Path.Combine(Source, "model.bin"), MiB);
        var key = NodeCache.KeyOf(Source, _files.Stat(Source)!.Value);
        Directory.CreateDirectory(Path.Combine(CacheDir, ".locks"));
        var lockFile = new FileStream(Path.Combine(CacheDir, ".locks", key + ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);

        var acquire = Cache().AcquireAsync(Request("i-1"), _progress.Enqueue, CancellationToken.None);
        await Task.Delay(500);
        var waited = (acquire.IsCompleted, _files.Walks);
        await lockFile.DisposeAsync();
        var lease = await acquire;

        waited.Should().Be((false, 0), "another agent process holding the key's flock is filling it");
        lease.Filled.Should().BeTrue();
    }

    [Fact]
    public async Task Capacity_EvictsLeastRecentlyUsedUnusedEntries()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var cache = Cache(time: time);
        var leases = new Dictionary<string, CacheLease>();
        foreach (var (name, instance) in new[] { ("a", "i-a"), ("b", "i-b"), ("c", "i-c") })
        {
            CacheTestFiles.Write(Path.Combine(_dir, name, "w.bin"), MiB);
            leases[name] = await cache.AcquireAsync(Request(instance, Path.Combine(_dir, name), capacityMib: 3), _progress.Enqueue, CancellationToken.None);
            time.Advance(TimeSpan.FromMinutes(1));
        }

        // c is released first, a last: c is the least recently used, b is still in use.
        await cache.ReleaseAsync("i-c", CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(1));
        await cache.ReleaseAsync("i-a", CancellationToken.None);
        await cache.FlushAsync();
        CacheTestFiles.Write(Path.Combine(_dir, "d", "w.bin"), MiB);

        var d = await cache.AcquireAsync(Request("i-d", Path.Combine(_dir, "d"), capacityMib: 3), _progress.Enqueue, CancellationToken.None);

        d.Filled.Should().BeTrue();
        Directory.Exists(leases["c"].Path).Should().BeFalse("c was unused and least recently used");
        Directory.Exists(leases["a"].Path).Should().BeTrue("a was used more recently than c and the room was enough");
        Directory.Exists(leases["b"].Path).Should().BeTrue("b is in use");
        cache.Entries().Select(e => e.Source).Should().BeEquivalentTo(Path.Combine(_dir, "a"), Path.Combine(_dir, "b"), Path.Combine(_dir, "d"));
    }

    [Fact]
    public async Task Capacity_HeldByEntriesInUse_FailsWithTheNumbersAndTheFix()
    {
        var cache = Cache();
        CacheTestFiles.Write(Path.Combine(_dir, "a", "w.bin"), 2 * MiB);
        CacheTestFiles.Write(Path.Combine(_dir, "b", "w.bin"), 2 * MiB);
        await cache.AcquireAsync(Request("i-a", Path.Combine(_dir, "a"), capacityMib: 3), _progress.Enqueue, CancellationToken.None);
        await cache.FlushAsync();

        var act = () => cache.AcquireAsync(Request("i-b", Path.Combine(_dir, "b"), capacityMib: 3), _progress.Enqueue, CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should().Be(
            $"storage[1] (/mnt/model): the cache needs 2 MiB for /mnt/data (host path {_dir}/b), but of its 3 MiB capacity 2 MiB are held by 1 entries in use by i-a, so only 1 MiB can be made free; " +
            "stop instances that use other cached sources, or raise storage[1].cache.capacity");
        Directory.Exists(Path.Combine(CacheDir, NodeCache.KeyOf(Path.Combine(_dir, "b"), _files.Stat(Path.Combine(_dir, "b"))!.Value))).Should().BeFalse();

        await cache.ReleaseAsync("i-a", CancellationToken.None);
        var b = await cache.AcquireAsync(Request("i-b", Path.Combine(_dir, "b"), capacityMib: 3), _progress.Enqueue, CancellationToken.None);
        b.Filled.Should().BeTrue("once unused, a is evicted");
    }

    [Fact]
    public async Task Capacity_SmallerThanTheSource_FailsNamingTheSetting()
    {
        CacheTestFiles.Write(Path.Combine(Source, "w.bin"), (2 * MiB) + 1);

        var act = () => Cache().AcquireAsync(Request("i-1", capacityMib: 2), _progress.Enqueue, CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should().Be(
            $"storage[1] (/mnt/model): the cache source /mnt/data (host path {Source}) holds 3 MiB in 1 files, more than the cache capacity of 2 MiB; raise storage[1].cache.capacity to at least 3, or cache a smaller folder");
        _files.BytesRead.Should().Be(0);
    }

    [Fact]
    public async Task HalfFilledEntry_IsFilledAgain()
    {
        CacheTestFiles.Write(Path.Combine(Source, "w.bin"), MiB);
        var first = await Cache().AcquireAsync(Request("i-1"), _progress.Enqueue, CancellationToken.None);
        await _caches[0].FlushAsync();
        var entry = Path.GetDirectoryName(first.Path)!;

        // A crash mid-fill: no marker, a torn file.
        File.Delete(Path.Combine(entry, "complete"));
        File.SetUnixFileMode(Path.Combine(first.Path, "w.bin"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.WriteAllBytes(Path.Combine(first.Path, "w.bin"), new byte[10]);
        _files.Reset();

        var second = await Cache().AcquireAsync(Request("i-2"), _progress.Enqueue, CancellationToken.None);

        second.Filled.Should().BeTrue();
        second.Path.Should().Be(first.Path);
        _files.BytesRead.Should().Be(MiB);
        CacheTestFiles.Hashes(second.Path).Should().BeEquivalentTo(CacheTestFiles.Hashes(Source));
    }

    [Fact]
    public async Task UnflushedMarkerFromAnotherBoot_IsFilledAgain_FlushedOneIsTrusted()
    {
        CacheTestFiles.Write(Path.Combine(Source, "w.bin"), MiB);
        var cache = Cache();
        var first = await cache.AcquireAsync(Request("i-1"), _progress.Enqueue, CancellationToken.None);
        await cache.FlushAsync();
        var marker = Path.Combine(Path.GetDirectoryName(first.Path)!, "complete");
        File.ReadAllText(marker).Should().Contain("\"Synced\": true", "the data was flushed after the fill");

        File.WriteAllText(marker, """{ "BootId": "another-boot", "Synced": true }""");
        _files.Reset();
        (await cache.AcquireAsync(Request("i-2"), _progress.Enqueue, CancellationToken.None)).Filled.Should().BeFalse();

        File.WriteAllText(marker, """{ "BootId": "another-boot", "Synced": false }""");
        (await cache.AcquireAsync(Request("i-3"), _progress.Enqueue, CancellationToken.None)).Filled.Should().BeTrue("its data may not have reached the disk before a reboot");
        _files.BytesRead.Should().Be(MiB);
    }

    [Fact]
    public async Task Fill_ReportsProgressAboutEvery10PercentAndReady()
    {
        CacheTestFiles.Write(Path.Combine(Source, "model.bin"), 40 * MiB);
        var time = new FakeTimeProvider();
        _files.BeforeRead = () => time.Advance(TimeSpan.FromSeconds(1));

        await Cache(parallelism: 1, time: time).AcquireAsync(Request("i-1"), _progress.Enqueue, CancellationToken.None);

        var lines = _progress.ToList();
        lines[0].Should().Be("cache: filling /mnt/model 0% (0/40 MiB, 1 files)");
        lines[^1].Should().Be("cache: ready /mnt/model (40 MiB, 1 files, filled in 40.0 s at 1 MiB/s)");
        var percents = lines.Skip(1).SkipLast(1).Select(l => ProgressLine().Match(l)).Select(m => m.Success ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : -1).ToList();
        percents.Should().Equal([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], "one line per 10% (1 MiB per second, at least 2 s apart)");
        lines[1].Should().Be("cache: filling /mnt/model 10% (4/40 MiB, 1 MiB/s)");
    }

    [Fact]
    public async Task FileSource_IsCachedAsTheFile()
    {
        CacheTestFiles.Write(Path.Combine(Source, "model.gguf"), MiB + 7);

        var lease = await Cache().AcquireAsync(Request("i-1", Path.Combine(Source, "model.gguf")), _progress.Enqueue, CancellationToken.None);

        Path.GetFileName(lease.Path).Should().Be("model.gguf");
        File.ReadAllBytes(lease.Path).Should().Equal(File.ReadAllBytes(Path.Combine(Source, "model.gguf")));
    }

    [Fact]
    public async Task ChangedSource_GetsANewEntry()
    {
        var file = Path.Combine(Source, "model.gguf");
        CacheTestFiles.Write(file, MiB);
        var cache = Cache();
        var first = await cache.AcquireAsync(Request("i-1", file), _progress.Enqueue, CancellationToken.None);

        CacheTestFiles.Write(file, MiB);
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddMinutes(1));
        var second = await cache.AcquireAsync(Request("i-2", file), _progress.Enqueue, CancellationToken.None);

        second.Key.Should().NotBe(first.Key);
        File.ReadAllBytes(second.Path).Should().Equal(File.ReadAllBytes(file));
        File.ReadAllBytes(first.Path).Should().NotEqual(File.ReadAllBytes(file), "instances started earlier keep the copy they started with");
    }

    [Fact]
    public async Task MissingSource_Fails()
    {
        var act = () => Cache().AcquireAsync(Request("i-1"), _progress.Enqueue, CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should().Be(
            $"storage[1] (/mnt/model): the cache source /mnt/data (host path {Source}) does not exist; check cache.source_path and the storage entry it is under");
    }

    [Fact]
    public async Task Release_DropsTheUserAndKeepsTheEntry()
    {
        CacheTestFiles.Write(Path.Combine(Source, "w.bin"), 100);
        var cache = Cache();
        var lease = await cache.AcquireAsync(Request("i-1"), _progress.Enqueue, CancellationToken.None);

        (await cache.ReleaseAsync("i-1", CancellationToken.None)).Should().Equal(lease.Key);
        (await cache.ReleaseAsync("never-seen", CancellationToken.None)).Should().BeEmpty();

        cache.Entries().Single().Users.Should().BeEmpty();
        Directory.Exists(lease.Path).Should().BeTrue();
    }

    private NodeCache Cache(int parallelism = 8, TimeProvider? time = null)
    {
        var cache = new NodeCache(
            new NodeCacheSettings { Dir = CacheDir, CapacityMib = 1024, FillParallelism = parallelism },
            NullLogger.Instance,
            time ?? TimeProvider.System,
            _files);
        _caches.Add(cache);
        return cache;
    }

    private CacheRequest Request(string instanceId, string? source = null, long capacityMib = 0) => new()
    {
        InstanceId = instanceId,
        SourcePath = source ?? Source,
        SourceShown = "/mnt/data",
        Name = "storage[1] (/mnt/model)",
        Shown = "/mnt/model",
        CapacityMib = capacityMib,
        CapacitySetting = capacityMib > 0 ? "storage[1].cache.capacity" : "Agent:Storage:CacheCapacityMib",
    };

    private static async Task Until(Func<bool> condition)
    {
        for (var i = 0; i < 1000 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        condition().Should().BeTrue("the condition should come true within 10 s");
    }

    [GeneratedRegex(@"^cache: filling /mnt/model (\d+)% \(\d+/40 MiB, \d+ MiB/s\)$")]
    private static partial Regex ProgressLine();
}
