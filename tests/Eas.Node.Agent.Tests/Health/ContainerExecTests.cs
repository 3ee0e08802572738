using System.Globalization;
using Eas.Node.Agent.Health;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.Runtime;
using Eas.Node.Agent.State;
using Microsoft.Extensions.Logging.Abstractions;

namespace Eas.Node.Agent.Tests.Health;

/// <summary>
/// <see cref="ConmonRuncDriver.ExecAsync"/> with a stand-in for runc that runs the command as its child and writes the
/// child's pid to --pid-file, as <c>runc exec</c> does: exit codes and output come back, and a command past its
/// timeout (or cancelled) is killed with everything it started.
/// </summary>
public sealed class ContainerExecTests : IDisposable
{
    private const string FakeRunc = """
        #!/bin/bash
        # runc --root ROOT exec --pid-file FILE CONTAINER COMMAND...
        [ "$1" = --root ] && [ "$3" = exec ] && [ "$4" = --pid-file ] || { echo "unexpected arguments: $*" >&2; exit 99; }
        pidfile=$5
        echo "$6" > "$(dirname "$pidfile")/container-id"
        shift 6
        "$@" &
        child=$!
        echo $child > "$pidfile"
        wait $child
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("eas-exec-test-").FullName;
    private readonly ConmonRuncDriver _driver;
    private readonly InstanceContext _context;

    public ContainerExecTests()
    {
        var runc = Path.Combine(_dir, "runc");
        File.WriteAllText(runc, FakeRunc);
        File.SetUnixFileMode(runc, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var options = Microsoft.Extensions.Options.Options.Create(new AgentOptions { StateDir = _dir, Runc = runc });
        var paths = new AgentPaths(options);
        _driver = new ConmonRuncDriver(options, paths, new CommandRunner(), new ExitWatcher(paths), new CgroupLayout(), TimeProvider.System, NullLogger<ConmonRuncDriver>.Instance);
        _context = ProbeChecksTests.Context(stateDir: _dir);
        Directory.CreateDirectory(_context.Dir);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Exec_ReturnsExitCodeAndOutput_InTheInstancesContainer()
    {
        var result = await _driver.ExecAsync(_context, ["sh", "-c", "echo not ready; exit 3"], TimeSpan.FromSeconds(20), CancellationToken.None);

        result.Should().Be(new ExecResult(3, false, "not ready"));
        File.ReadAllText(Path.Combine(_context.Dir, "container-id")).Trim().Should().Be(_context.ContainerId);
        Directory.EnumerateFiles(_context.Dir, "exec-*.pid").Should().BeEmpty("the pid file is removed");
    }

    [Fact]
    public async Task Exec_PastItsTimeout_IsKilledWithWhatItStarted()
    {
        var marker = Marker();

        var result = await _driver.ExecAsync(_context, ["sh", "-c", $"sleep {marker} & sleep {marker}; wait"], TimeSpan.FromMilliseconds(300), CancellationToken.None);

        result.TimedOut.Should().BeTrue();
        result.ExitCode.Should().NotBe(0);
        await ProbeWorkerTests.WaitAsync(() => Running(marker).Count == 0);
        Directory.EnumerateFiles(_context.Dir, "exec-*.pid").Should().BeEmpty();
    }

    [Fact]
    public async Task Exec_Cancelled_ThrowsAndKillsTheCommand()
    {
        var marker = Marker();
        using var cancel = new CancellationTokenSource();
        var exec = _driver.ExecAsync(_context, ["sleep", marker], TimeSpan.FromSeconds(60), cancel.Token);
        await ProbeWorkerTests.WaitAsync(() => Running(marker).Count == 1);

        await cancel.CancelAsync();

        await exec.Invoking(e => e).Should().ThrowAsync<OperationCanceledException>();
        await ProbeWorkerTests.WaitAsync(() => Running(marker).Count == 0);
    }

    // A sleep length no other process on the machine has: its command line finds exactly the test's processes.
    private static string Marker() => "3600." + System.Security.Cryptography.RandomNumberGenerator.GetInt32(100000, 999999).ToString(CultureInfo.InvariantCulture);

    private static List<int> Running(string marker)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                if (cmdline.Length >= 2 && cmdline[0].EndsWith("sleep", StringComparison.Ordinal) && cmdline[1] == marker)
                {
                    found.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // It ended while we looked.
            }
        }

        return found;
    }
}
