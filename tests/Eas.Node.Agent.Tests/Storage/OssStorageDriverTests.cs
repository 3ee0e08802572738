using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Interop;
using Eas.Node.Agent.Storage;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Eas.Node.Agent.Tests.Storage;

/// <summary>
/// The oss driver against a real S3 server (s3rver on loopback) through real s3fs-fuse mounts: sharing one
/// mount between instances, read-only and read-write, agent restarts, failures and cleanup.
/// </summary>
[Collection(OssMountCollection.Name)]
public sealed class OssStorageDriverTests : IAsyncLifetime
{
    private const string Bucket = "models";
    private static readonly byte[] _weights = [.. Enumerable.Range(0, 200_000).Select(i => (byte)(i * 31 % 251))];

    private readonly OssTestWorld _world = new();
    private S3rver? _s3;

    private S3rver S3 => _s3!;

    public async Task InitializeAsync()
    {
        if (OssTestEnvironment.MissingForS3fs() is not null)
        {
            return;
        }

        _s3 = await S3rver.StartAsync(Bucket);
        await S3.PutAsync(Bucket, "qwen/config.json", """{"model": "qwen"}""");
        await S3.PutAsync(Bucket, "qwen/weights/part-0.bin", _weights);
        await S3.PutAsync(Bucket, "other/readme.txt", "not under qwen/");
        _world.WriteSecrets(S3rver.AccessKeyId, S3rver.SecretAccessKey);
    }

    public async Task DisposeAsync()
    {
        await _world.DisposeAsync();
        if (_s3 is not null)
        {
            await _s3.DisposeAsync();
        }
    }

    [S3fsFact]
    public async Task ReadOnlyMount_IsSharedByInstancesAndUndoneByTheLastRelease()
    {
        var driver = _world.Driver();
        var source = Source("qwen");

        var path = await driver.AcquireAsync(_world.Request("inst-a", source), CancellationToken.None);

        path.Should().StartWith(_world.MountsDir + "/oss-");
        Directory.GetFileSystemEntries(path).Select(Path.GetFileName).Should().BeEquivalentTo("config.json", "weights");
        File.ReadAllBytes(Path.Combine(path, "weights", "part-0.bin")).Should().Equal(_weights);
        File.ReadAllText(Path.Combine(path, "config.json")).Should().Be("""{"model": "qwen"}""");
        var write = () => File.WriteAllText(Path.Combine(path, "new.txt"), "x");
        write.Should().Throw<IOException>().WithMessage("*Read-only file system*");
        HostMountTable.TypeAt(path).Should().Be("fuse.s3fs");

        var second = await driver.AcquireAsync(_world.Request("inst-b", source), CancellationToken.None);

        second.Should().Be(path);
        MountsAt(path).Should().Be(1);
        OssStorageDriver.DaemonsFor(path).Should().HaveCount(1);
        driver.Mounts.Users(Key(path)).Should().BeEquivalentTo("inst-a", "inst-b");

        await driver.ReleaseAsync("inst-a", CancellationToken.None);

        HostMountTable.TypeAt(path).Should().Be("fuse.s3fs", "inst-b still uses it");
        File.ReadAllText(Path.Combine(path, "config.json")).Should().Contain("qwen");

        await driver.ReleaseAsync("inst-b", CancellationToken.None);

        HostMountTable.IsMountPoint(path).Should().BeFalse();
        OssStorageDriver.DaemonsFor(path).Should().BeEmpty();
        Directory.Exists(path).Should().BeFalse();
        Directory.GetFiles(_world.MountsDir).Should().BeEmpty("the password file and the s3fs log go with the mount");
    }

    [S3fsFact]
    public async Task ReadWriteMount_WritesReachTheBucket_AndIsADifferentMountThanReadOnly()
    {
        var driver = _world.Driver();
        var readOnly = await driver.AcquireAsync(_world.Request("inst-ro", Source("qwen"), readOnly: true), CancellationToken.None);

        var path = await driver.AcquireAsync(_world.Request("inst-rw", Source("qwen"), readOnly: false), CancellationToken.None);
        await File.WriteAllTextAsync(Path.Combine(path, "output.txt"), "written by an instance");

        path.Should().NotBe(readOnly);
        (await S3.GetAsync(Bucket, "qwen/output.txt")).Should().Equal("written by an instance"u8.ToArray());
        OssStorageDriver.DaemonsFor(path).Should().HaveCount(1);
        OssStorageDriver.DaemonsFor(readOnly).Should().HaveCount(1);
    }

    [S3fsFact]
    public async Task WholeBucket_NodeDefaultEndpoint_Mounts()
    {
        var driver = _world.Driver(nodeEndpoint: S3.Endpoint);

        var path = await driver.AcquireAsync(_world.Request("inst-a", new OssSource { Bucket = Bucket }), CancellationToken.None);

        Directory.GetFileSystemEntries(path).Select(Path.GetFileName).Should().BeEquivalentTo("qwen", "other");
    }

    [S3fsFact]
    public async Task AgentRestart_ReusesTheLiveMount()
    {
        var source = Source("qwen");
        var path = await _world.Driver().AcquireAsync(_world.Request("inst-a", source), CancellationToken.None);
        var daemon = OssStorageDriver.DaemonsFor(path).Single();

        var restarted = _world.Driver();
        var again = await restarted.AcquireAsync(_world.Request("inst-b", source), CancellationToken.None);

        again.Should().Be(path);
        MountsAt(path).Should().Be(1);
        OssStorageDriver.DaemonsFor(path).Should().Equal(daemon);
        restarted.Mounts.Users(Key(path)).Should().BeEquivalentTo("inst-a", "inst-b");

        await restarted.ReleaseAsync("inst-a", CancellationToken.None);
        await restarted.ReleaseAsync("inst-b", CancellationToken.None);

        HostMountTable.IsMountPoint(path).Should().BeFalse();
        OssStorageDriver.DaemonsFor(path).Should().BeEmpty();
    }

    [S3fsFact]
    public async Task AgentRestart_RemountsADeadMount()
    {
        var source = Source("qwen");
        var path = await _world.Driver().AcquireAsync(_world.Request("inst-a", source), CancellationToken.None);
        Signals.Send(OssStorageDriver.DaemonsFor(path).Single(), Signals.Kill);
        await WaitUntil(() => FileStatus.Stat(path, out _, out _) == FileStatus.NotConnected);
        var dead = () => Directory.GetFileSystemEntries(path);
        dead.Should().Throw<IOException>().WithMessage("*Transport endpoint is not connected*");

        var restarted = _world.Driver();
        var again = await restarted.AcquireAsync(_world.Request("inst-b", source), CancellationToken.None);

        again.Should().Be(path);
        File.ReadAllBytes(Path.Combine(path, "weights", "part-0.bin")).Should().Equal(_weights);
        MountsAt(path).Should().Be(1, "the dead mount was detached, not stacked under the new one");
        OssStorageDriver.DaemonsFor(path).Should().HaveCount(1);
    }

    [S3fsFact]
    public async Task WrongKeys_FailWithTheStoresAnswer_AndNeverShowTheKeys()
    {
        _world.WriteSecrets("AKIDWRONGKEY42", "wrong-secret-value-42");

        var act = () => _world.Driver().AcquireAsync(_world.Request("inst-a", Source("qwen"), index: 1), CancellationToken.None);

        var failure = (await act.Should().ThrowAsync<InstanceFailedException>()).Which;
        failure.Message.Should().StartWith("storage[1] (/mnt/data): s3fs cannot mount oss://models/qwen at http://127.0.0.1:")
            .And.Contain("InvalidAccessKeyId")
            .And.Contain("credential \"default\"")
            .And.NotContain("AKIDWRONGKEY42")
            .And.NotContain("wrong-secret-value-42");
        NothingLeft();
    }

    [S3fsFact]
    public async Task MissingBucket_FailsWithTheStoresAnswer()
    {
        var act = () => _world.Driver().AcquireAsync(_world.Request("inst-a", new OssSource { Bucket = "no-such-bucket", Endpoint = S3.Endpoint }), CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should()
            .StartWith("storage[0] (/mnt/data): s3fs cannot mount oss://no-such-bucket/")
            .And.Contain("NoSuchBucket");
        NothingLeft();
    }

    [S3fsFact]
    public async Task Cleanup_UnmountsEverything_AndStopsS3fs()
    {
        var driver = _world.Driver();
        var first = await driver.AcquireAsync(_world.Request("inst-a", Source("qwen")), CancellationToken.None);
        var second = await driver.AcquireAsync(_world.Request("inst-b", Source("other"), readOnly: false), CancellationToken.None);

        await SharedHostMounts.CleanupAsync(_world.StateDir, NullLogger.Instance, CancellationToken.None);

        HostMountTable.MountPointsUnder(_world.StateDir).Should().BeEmpty();
        OssStorageDriver.DaemonsFor(first).Should().BeEmpty();
        OssStorageDriver.DaemonsFor(second).Should().BeEmpty();
        Directory.Exists(_world.MountsDir).Should().BeFalse();
    }

    [OssRootFact]
    public async Task UnknownSecretName_FailsNamingItAndTheNamesTheFileHas()
    {
        _world.WriteSecrets("""{"default": {"accessKeyId": "AKIDDEFAULT", "secretAccessKey": "default-secret"}, "team-a": {"accessKeyId": "AKIDTEAMA", "secretAccessKey": "team-a-secret"}}""");

        var act = () => _world.Driver().AcquireAsync(_world.Request("inst-a", Source("qwen").WithSecret("team-x"), index: 2), CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should()
            .Be($"storage[2] (/mnt/data): oss.secret \"team-x\" is not a credential in {_world.SecretsFile} (Agent:Storage:SecretsFile) (it has \"default\", \"team-a\"); add \"team-x\" to the file or set oss.secret to one it has");
    }

    [OssRootFact]
    public async Task WorldReadableSecretsFile_IsRefused()
    {
        _world.WriteSecrets("""{"default": {"accessKeyId": "AKIDVISIBLE", "secretAccessKey": "visible-secret"}}""", (UnixFileMode)Convert.ToInt32("644", 8));

        var act = () => _world.Driver().AcquireAsync(_world.Request("inst-a", Source("qwen")), CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should()
            .Be($"storage[0] (/mnt/data): {_world.SecretsFile} (Agent:Storage:SecretsFile) can be read or written by group or others (mode 0644); it holds keys: chmod 600 {_world.SecretsFile}");
        Directory.Exists(_world.MountsDir).Should().BeFalse("nothing is mounted with keys others could read");
    }

    [OssRootFact]
    public async Task SecretsFileNotOwnedByRoot_IsRefused()
    {
        _world.WriteSecrets("""{"default": {"accessKeyId": "AKIDOWNED", "secretAccessKey": "owned-secret"}}""");
        File.SetUnixFileMode(_world.SecretsFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await Chown(_world.SecretsFile, "65534");

        var act = () => _world.Driver().AcquireAsync(_world.Request("inst-a", Source("qwen")), CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should()
            .Contain("is owned by uid 65534, not root").And.Contain($"chown root:root {_world.SecretsFile}");
    }

    [OssRootFact]
    public async Task MissingSecretsFile_SaysHowToWriteIt()
    {
        File.Delete(_world.SecretsFile);

        var act = () => _world.Driver().AcquireAsync(_world.Request("inst-a", Source("qwen")), CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should()
            .Be($"storage[0] (/mnt/data): the node's object-store credentials file {_world.SecretsFile} (Agent:Storage:SecretsFile) does not exist; create it, owned by root with mode 0600, as {{\"default\": {{\"accessKeyId\": \"…\", \"secretAccessKey\": \"…\"}}}}");
    }

    [OssRootFact]
    public async Task MalformedSecretsFile_GivesThePositionNotTheText()
    {
        _world.WriteSecrets("""{"default": {"accessKeyId": "AKIDBROKEN", "secretAccessKey": broken-secret}}""");

        var act = () => _world.Driver().AcquireAsync(_world.Request("inst-a", Source("qwen")), CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should()
            .Contain("is not valid JSON (line 1)").And.NotContain("broken-secret").And.NotContain("AKIDBROKEN");
    }

    [Fact]
    public async Task MissingEndpoint_NamesTheEntryAndBothPlacesToSetIt()
    {
        var act = () => _world.Driver(nodeEndpoint: "").AcquireAsync(_world.Request("inst-a", new OssSource { Bucket = Bucket, Prefix = "qwen" }, index: 3, mountPath: "/models"), CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should()
            .Be("storage[3] (/models): oss://models/qwen names no endpoint and the node has no default; set \"endpoint\" in the oss entry (e.g. \"https://s3.example.com\") or Agent:Storage:OssEndpoint in the node's config");
    }

    [Fact]
    public async Task BadNodeEndpoint_NamesTheSetting()
    {
        var act = () => _world.Driver(nodeEndpoint: "ftp://files.internal").AcquireAsync(_world.Request("inst-a", new OssSource { Bucket = Bucket }), CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should()
            .StartWith("storage[0] (/mnt/data): endpoint \"ftp://files.internal\" (Agent:Storage:OssEndpoint) is not \"host[:port]\" or an http(s) URL with no path");
    }

    [Fact]
    public async Task Release_OfAnUnknownInstance_DoesNothing()
    {
        var act = () => _world.Driver().ReleaseAsync("never-seen", CancellationToken.None);

        await act.Should().NotThrowAsync();
    }

    [Fact]
    public void AgentHost_WiresTheOssAndNfsDriversIntoTheStorageHook()
    {
        var built = AgentHost.TryBuild([$"--Agent:StateDir={_world.StateDir}"], TextWriter.Null);
        using var host = built!.Value.Host;

        host.Services.GetServices<IStorageDriver>().Select(d => d.Kind).Should().Contain([Mount.SourceOneofCase.Oss, Mount.SourceOneofCase.Nfs]);
        host.Services.GetRequiredService<StorageHook>().Name.Should().Be("storage");
    }

    private OssSource Source(string prefix) => new() { Bucket = Bucket, Prefix = prefix, Endpoint = _s3?.Endpoint ?? "http://127.0.0.1:9" };

    private static string Key(string path) => Path.GetFileName(path);

    private static int MountsAt(string path) => HostMountTable.Read().Count(m => m.MountPoint == path);

    /// <summary>No mount, no s3fs, no password file or directory left in the mounts folder.</summary>
    private void NothingLeft()
    {
        HostMountTable.MountPointsUnder(_world.StateDir).Should().BeEmpty();
        HostProcesses.Find(argv => argv[0].Contains("s3fs", StringComparison.Ordinal) && argv.Any(a => a.StartsWith(_world.MountsDir + "/", StringComparison.Ordinal)))
            .Should().BeEmpty();
        if (Directory.Exists(_world.MountsDir))
        {
            Directory.GetFileSystemEntries(_world.MountsDir).Where(e => Path.GetFileName(e) != "refs").Should().BeEmpty();
        }
    }

    private static async Task Chown(string file, string owner)
    {
        var result = await new Eas.Node.Agent.Runtime.CommandRunner().RunAsync("chown", [owner, file]);
        result.Succeeded.Should().BeTrue(result.Tail());
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            DateTime.UtcNow.Should().BeBefore(deadline, "the condition should hold within 10 s");
            await Task.Delay(50);
        }
    }
}

/// <summary>Tests that mount with s3fs run one at a time (each starts s3rver and FUSE daemons).</summary>
[CollectionDefinition(Name)]
public sealed class OssMountCollection
{
    public const string Name = "oss mounts";
}

internal static class OssSourceExtensions
{
    public static OssSource WithSecret(this OssSource source, string secret)
    {
        var copy = source.Clone();
        copy.Secret = secret;
        return copy;
    }
}
