using System.Collections.Concurrent;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.Runtime;
using Eas.Node.Agent.State;
using Eas.Node.Agent.Storage;
using Eas.Node.Agent.Tests.Support;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.Logging.Abstractions;

namespace Eas.Node.Agent.Tests.Storage;

public sealed class NfsMountCommandTests
{
    [Fact]
    public void Options_AreNfs41HardWithLongTimeouts() =>
        NfsMountCommand.Options(readOnly: false).Should().Be("nfsvers=4.1,hard,timeo=600,retrans=2,noresvport");

    [Fact]
    public void Options_ReadOnly_AddsRo() =>
        NfsMountCommand.Options(readOnly: true).Should().Be("nfsvers=4.1,hard,timeo=600,retrans=2,noresvport,ro");

    [Theory]
    [InlineData("nas.internal", "/exports/models", "nas.internal:/exports/models")]
    [InlineData("10.0.0.5", "", "10.0.0.5:/")]
    [InlineData("10.0.0.5", "data", "10.0.0.5:/data")]
    [InlineData("fd00::5", "/", "[fd00::5]:/")]
    public void Source_IsServerColonPath(string server, string path, string expected) =>
        NfsMountCommand.Source(server, path).Should().Be(expected);

    [Fact]
    public void Arguments_AreTypeOptionsSourceTarget() =>
        NfsMountCommand.Arguments("nas.internal", "/exports", "/state/mounts/nfs-1", readOnly: true).Should().Equal(
            "-t", "nfs", "-o", "nfsvers=4.1,hard,timeo=600,retrans=2,noresvport,ro", "nas.internal:/exports", "/state/mounts/nfs-1");

    [Theory]
    [InlineData("nas.internal", true)]
    [InlineData("10.0.0.5", true)]
    [InlineData("fd00::5", true)]
    [InlineData("-oremount", false)]
    [InlineData("nas internal", false)]
    [InlineData("nas:2049", false)]
    [InlineData("", false)]
    public void IsServer_AcceptsHostNamesAndAddressesOnly(string server, bool expected) => NfsMountCommand.IsServer(server).Should().Be(expected);

    [Fact]
    public void MissingKernelClient_ReadsProcFilesystems()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\tfuse\n");
            NfsStorageDriver.MissingKernelClient(file).Should().Be("this kernel has no NFS client (no nfs in /proc/filesystems)");

            File.AppendAllText(file, "nodev\tnfs\nnodev\tnfs4\n");
            NfsStorageDriver.MissingKernelClient(file).Should().BeNull();
        }
        finally
        {
            File.Delete(file);
        }
    }
}

public sealed class NfsStorageDriverTests : IDisposable
{
    private readonly string _stateDir = Directory.CreateTempSubdirectory("eas-nfs-state-").FullName;

    public void Dispose()
    {
        SharedHostMounts.CleanupAsync(_stateDir, NullLogger.Instance, CancellationToken.None).GetAwaiter().GetResult();
        if (HostMountTable.MountPointsUnder(_stateDir).Count == 0)
        {
            Directory.Delete(_stateDir, recursive: true);
        }
    }

    [Fact]
    public async Task MountFailure_NamesTheEntryTheExportAndMountsError()
    {
        var runner = new RecordingCommandRunner((file, _) => file == "mount"
            ? new CommandResult(32, "", "mount.nfs: Connection refused")
            : new CommandResult(0, "", ""));
        var driver = Driver(runner);

        var act = () => driver.AcquireAsync(Request("inst-a", new NfsSource { Server = "nas.internal", Path = "/exports/models" }, readOnly: true, index: 1), CancellationToken.None);

        var message = (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message;
        message.Should().StartWith("storage[1] (/data_nas): cannot mount NFS export nas.internal:/exports/models: mount.nfs: Connection refused; ");
        message.Should().Contain(NfsStorageDriver.MissingKernelClient() is null ? "check that nas.internal is reachable" : "this kernel has no NFS client");
        var (file, args) = runner.Calls.Single();
        file.Should().Be("mount");
        args.Should().Equal("-t", "nfs", "-o", "nfsvers=4.1,hard,timeo=600,retrans=2,noresvport,ro", "nas.internal:/exports/models", args[^1]);
        args[^1].Should().StartWith(SharedHostMounts.MountsDir(_stateDir) + "/nfs-");
        Directory.Exists(args[^1]).Should().BeFalse("the failed mount's directory is removed");
        driver.Mounts.Users(Path.GetFileName(args[^1])).Should().BeEmpty();
    }

    [Fact]
    public async Task BadServer_IsRefusedBeforeMount()
    {
        var runner = new RecordingCommandRunner((_, _) => new CommandResult(0, "", ""));

        var act = () => Driver(runner).AcquireAsync(Request("inst-a", new NfsSource { Server = "-oremount", Path = "/" }), CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should()
            .Be("storage[0] (/data_nas): nfs.server \"-oremount\" is not a host name or IP address; write e.g. \"nfs.internal\" or \"10.0.0.5\"");
        runner.Calls.Should().BeEmpty();
    }

    /// <summary>
    /// The sharing, counting and restart logic against the real kernel mount table. This kernel may have no NFS
    /// client, so mount(8) is asked for a tmpfs in place of the export; everything else (umount, mountinfo,
    /// the reference files) is real.
    /// </summary>
    [NfsRootFact]
    public async Task SharedExport_MountsOnce_SurvivesARestart_AndUnmountsOnLastRelease()
    {
        var runner = new TmpfsForNfsRunner();
        var source = new NfsSource { Server = "nas.internal", Path = "/exports/models" };
        var driver = Driver(runner);

        var path = await driver.AcquireAsync(Request("inst-a", source, readOnly: false), CancellationToken.None);
        await File.WriteAllTextAsync(Path.Combine(path, "shared.txt"), "from inst-a");
        var second = await driver.AcquireAsync(Request("inst-b", source, readOnly: false), CancellationToken.None);
        var restarted = Driver(runner);
        var third = await restarted.AcquireAsync(Request("inst-c", source, readOnly: false), CancellationToken.None);

        second.Should().Be(path);
        third.Should().Be(path);
        File.ReadAllText(Path.Combine(path, "shared.txt")).Should().Be("from inst-a", "every instance sees the one mount");
        runner.Mounts.Should().Be(1);
        HostMountTable.Read().Count(m => m.MountPoint == path).Should().Be(1);
        restarted.Mounts.Users(Path.GetFileName(path)).Should().BeEquivalentTo("inst-a", "inst-b", "inst-c");

        await restarted.ReleaseAsync("inst-a", CancellationToken.None);
        await restarted.ReleaseAsync("inst-b", CancellationToken.None);

        HostMountTable.IsMountPoint(path).Should().BeTrue("inst-c still uses it");

        await restarted.ReleaseAsync("inst-c", CancellationToken.None);

        HostMountTable.IsMountPoint(path).Should().BeFalse();
        Directory.Exists(path).Should().BeFalse();
    }

    [NfsRootFact]
    public async Task ReadOnlyAndReadWrite_OfOneExport_AreTwoMounts()
    {
        var runner = new TmpfsForNfsRunner();
        var driver = Driver(runner);
        var source = new NfsSource { Server = "10.0.0.5", Path = "/exports" };

        var readWrite = await driver.AcquireAsync(Request("inst-a", source, readOnly: false), CancellationToken.None);
        var readOnly = await driver.AcquireAsync(Request("inst-b", source, readOnly: true), CancellationToken.None);

        readOnly.Should().NotBe(readWrite);
        var write = () => File.WriteAllText(Path.Combine(readOnly, "x"), "x");
        write.Should().Throw<IOException>().WithMessage("*Read-only file system*");
    }

    /// <summary>On a kernel without an NFS client, the real mount(8) fails; the instance learns why and what to do.</summary>
    [NfsWithoutClientFact]
    public async Task NoKernelClient_RealMountFails_WithMountsOwnTextAndTheFix()
    {
        var driver = Driver(new CommandRunner());

        var act = () => driver.AcquireAsync(Request("inst-a", new NfsSource { Server = "127.0.0.1", Path = "/exports" }, readOnly: true), CancellationToken.None);

        // mount's own words differ with and without nfs-common's mount.nfs; the fix names what is missing.
        var message = (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message;
        message.Should().StartWith("storage[0] (/data_nas): cannot mount NFS export 127.0.0.1:/exports: mount");
        if (File.Exists("/sbin/mount.nfs"))
        {
            message.Should().Contain("mount.nfs: ").And.EndWith(
                "this kernel has no NFS client (no nfs in /proc/filesystems): load the kernel's NFS client (modprobe nfs; mount.nfs is installed) or schedule the service on nodes that have one");
        }
        else
        {
            message.Should().Contain("unknown filesystem type 'nfs'").And.EndWith(
                "this kernel has no NFS client (no nfs in /proc/filesystems): install the node's NFS client (apt-get install nfs-common) or schedule the service on nodes that have one");
        }

        HostMountTable.MountPointsUnder(_stateDir).Should().BeEmpty();
    }

    /// <summary>A real export: needs the kernel's NFS client and EAS_TEST_NFS_EXPORT=server:/path.</summary>
    [NfsKernelFact]
    public async Task RealExport_MountsReadOnly_AndUnmountsOnRelease()
    {
        var export = Environment.GetEnvironmentVariable(NfsKernelFactAttribute.ExportVariable)!;
        var colon = export.LastIndexOf(":/", StringComparison.Ordinal);
        var driver = Driver(new CommandRunner());

        var path = await driver.AcquireAsync(Request("inst-a", new NfsSource { Server = export[..colon], Path = export[(colon + 1)..] }, readOnly: true), CancellationToken.None);

        HostMountTable.TypeAt(path).Should().StartWith("nfs");
        var write = () => File.WriteAllText(Path.Combine(path, "eas-write-test"), "x");
        write.Should().Throw<IOException>().WithMessage("*Read-only file system*");

        await driver.ReleaseAsync("inst-a", CancellationToken.None);

        HostMountTable.IsMountPoint(path).Should().BeFalse();
    }

    private NfsStorageDriver Driver(ICommandRunner runner) => new(
        Microsoft.Extensions.Options.Options.Create(new AgentOptions { StateDir = _stateDir }), runner, NullLogger<NfsStorageDriver>.Instance);

    private StorageRequest Request(string instanceId, NfsSource source, bool readOnly = false, int index = 0)
    {
        var paths = new AgentPaths(Microsoft.Extensions.Options.Options.Create(new AgentOptions { StateDir = _stateDir }));
        var assignment = new InstanceAssignment { InstanceId = instanceId, Service = "svc", ServiceVersion = 1, Spec = new InstanceSpec() };
        var mount = new Mount { MountPath = "/data_nas", ReadOnly = readOnly, Nfs = source };
        return new StorageRequest(new InstanceContext(new InstanceRecord { Assignment = assignment }, paths), mount, index, _ => null);
    }

    /// <summary>Runs commands for real, except that <c>mount -t nfs … SOURCE TARGET</c> mounts a small tmpfs at TARGET.</summary>
    private sealed class TmpfsForNfsRunner : ICommandRunner
    {
        private readonly CommandRunner _real = new();
        private readonly ConcurrentQueue<string> _mounts = new();

        public int Mounts => _mounts.Count;

        public Task<CommandResult> RunAsync(string file, IEnumerable<string> arguments, CommandOptions? options = null, CancellationToken cancellationToken = default)
        {
            var args = arguments.ToList();
            if (file == "mount" && args is ["-t", "nfs", "-o", var nfsOptions, var source, var target])
            {
                _mounts.Enqueue(source);
                var tmpfsOptions = "size=1m" + (nfsOptions.Split(',').Contains("ro") ? ",ro" : "");
                return _real.RunAsync("mount", ["-t", "tmpfs", "-o", tmpfsOptions, "eas-nfs-test", target], options, cancellationToken);
            }

            return _real.RunAsync(file, args, options, cancellationToken);
        }
    }
}

/// <summary>A fact that mounts (a tmpfs standing in for the export): needs root.</summary>
public sealed class NfsRootFactAttribute : FactAttribute
{
    public NfsRootFactAttribute()
    {
        if (Tmds.Linux.LibC.geteuid() != 0)
        {
            Skip = "needs root (mounts)";
            Console.WriteLine($"SKIP nfs test: {Skip}");
        }
    }
}

/// <summary>A fact for a kernel without an NFS client (where mount -t nfs fails at once, sending nothing): needs root.</summary>
public sealed class NfsWithoutClientFactAttribute : FactAttribute
{
    public NfsWithoutClientFactAttribute()
    {
        Skip = Tmds.Linux.LibC.geteuid() != 0 ? "needs root (mount)"
            : NfsStorageDriver.MissingKernelClient() is null ? "this kernel has an NFS client; the real-export test covers mounting"
            : null;
        if (Skip is not null)
        {
            Console.WriteLine($"SKIP nfs test: {Skip}");
        }
    }
}

/// <summary>A fact that mounts a real NFS export: root, the kernel's NFS client, and EAS_TEST_NFS_EXPORT=server:/path.</summary>
public sealed class NfsKernelFactAttribute : FactAttribute
{
    public const string ExportVariable = "EAS_TEST_NFS_EXPORT";

    public NfsKernelFactAttribute()
    {
        var export = Environment.GetEnvironmentVariable(ExportVariable);
        Skip = Tmds.Linux.LibC.geteuid() != 0 ? "needs root (mounts)"
            : NfsStorageDriver.MissingKernelClient() is { } missing ? missing
            : export is null || !export.Contains(":/", StringComparison.Ordinal) ? $"no NFS export to mount: set {ExportVariable}=server:/path (one this node may mount read-only)"
            : null;
        if (Skip is not null)
        {
            Console.WriteLine($"SKIP nfs test: {Skip}");
        }
    }
}
