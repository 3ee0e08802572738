using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.Prepare;
using Eas.Node.Agent.Runtime;
using Eas.Node.Agent.State;
using Eas.Node.Agent.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Eas.Node.Agent.Tests.Prepare;

public sealed class PythonVenvsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eas-venv-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Hash_OrderWhitespaceAndDuplicates_DoNotMatter()
    {
        var a = PythonVenvs.Hash(["flask", "numpy==1.26.4", "# comment", ""]);
        var b = PythonVenvs.Hash(["  numpy==1.26.4", "flask", "flask"]);

        a.Should().Be(b);
        a.Should().MatchRegex("^[0-9a-f]{64}$");
        PythonVenvs.Hash(["flask"]).Should().NotBe(a);
    }

    [Fact]
    public void Hash_IsStableAcrossRuns()
    {
        // The venv directory name must not change between agent versions: a changed hash rebuilds every venv.
        PythonVenvs.Hash(["flask"]).Should().Be(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("flask"u8)));
    }

    [Fact]
    public async Task EnsureAsync_ConcurrentCallers_BuildOnce()
    {
        var commands = new RecordingCommandRunner((file, args) => Succeed(file, args));
        var venvs = Create(commands, pipArgs: "--index-url http://127.0.0.1:1/simple");

        var dirs = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => venvs.EnsureAsync(["flask"], CancellationToken.None)));

        dirs.Distinct().Should().ContainSingle().Which.Should().Be(Path.Combine(_dir, "venvs", PythonVenvs.Hash(["flask"])));
        commands.Calls.Count(c => c.Args.Contains("venv")).Should().Be(1);
        var pip = commands.Calls.Single(c => c.File.EndsWith("/bin/pip", StringComparison.Ordinal));
        pip.Args.Should().ContainInOrder("install", "--index-url", "http://127.0.0.1:1/simple", "-r");
        commands.Calls.First().Args.Should().ContainInOrder("-m", "venv", "--system-site-packages");
        File.Exists(Path.Combine(dirs[0], PythonVenvs.Marker)).Should().BeTrue();
    }

    [Fact]
    public async Task EnsureAsync_PipFails_ReasonEndsWithPipOutputAndDirIsRemoved()
    {
        var commands = new RecordingCommandRunner((file, args) => file.EndsWith("/pip", StringComparison.Ordinal)
            ? new CommandResult(1, "Collecting nosuchpkg", "ERROR: No matching distribution found for nosuchpkg")
            : Succeed(file, args));
        var venvs = Create(commands);

        var act = () => venvs.EnsureAsync(["nosuchpkg"], CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should().StartWith("pip install failed").And.Contain("No matching distribution found for nosuchpkg");
        Directory.Exists(Path.Combine(_dir, "venvs", PythonVenvs.Hash(["nosuchpkg"]))).Should().BeFalse();
    }

    [Fact]
    public async Task EnsureAsync_HalfBuiltDirectory_IsRebuilt()
    {
        var half = Path.Combine(_dir, "venvs", PythonVenvs.Hash(["flask"]));
        Directory.CreateDirectory(Path.Combine(half, "bin"));
        await File.WriteAllTextAsync(Path.Combine(half, "leftover"), "from a crash");
        var commands = new RecordingCommandRunner((file, args) => Succeed(file, args));

        var dir = await Create(commands).EnsureAsync(["flask"], CancellationToken.None);

        File.Exists(Path.Combine(dir, "leftover")).Should().BeFalse();
        File.Exists(Path.Combine(dir, PythonVenvs.Marker)).Should().BeTrue();
        commands.Calls.Should().Contain(c => c.Args.Contains("venv"));
    }

    private PythonVenvs Create(ICommandRunner commands, string pipArgs = "")
    {
        var options = Microsoft.Extensions.Options.Options.Create(new AgentOptions { StateDir = _dir, PipArgs = pipArgs });
        return new PythonVenvs(options, new AgentPaths(options), commands, NullLogger<PythonVenvs>.Instance);
    }

    private static CommandResult Succeed(string file, IReadOnlyList<string> args)
    {
        if (args.Contains("venv"))
        {
            Directory.CreateDirectory(Path.Combine(args[^1], "bin"));
        }

        return new CommandResult(0, "", "");
    }
}
