using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.Runtime;
using Eas.Node.Agent.State;
using Eas.Node.Contracts.V1;

namespace Eas.Node.Agent.Tests.Runtime;

public sealed class OutputLogTests : IDisposable
{
    private readonly string _file = Path.GetTempFileName();

    private readonly string _stateDir = Directory.CreateTempSubdirectory("eas-outlog-").FullName;

    public void Dispose()
    {
        File.Delete(_file);
        Directory.Delete(_stateDir, recursive: true);
    }

    [Fact]
    public async Task TailAsync_K8sFileLines_ReturnsLastLinesWithPartialsJoined()
    {
        await File.WriteAllLinesAsync(_file,
        [
            "2024-01-01T00:00:00.000000000+00:00 stdout F one",
            "2024-01-01T00:00:00.000000000+00:00 stderr F two",
            "2024-01-01T00:00:00.000000000+00:00 stdout P thr",
            "2024-01-01T00:00:00.000000000+00:00 stdout F ee",
            "2024-01-01T00:00:00.000000000+00:00 stdout F ",
        ]);

        var lines = await OutputLog.TailAsync(_file, 3, CancellationToken.None);

        lines.Should().Equal("two", "three", "");
    }

    [Fact]
    public async Task TailAsync_MissingFile_IsEmpty()
    {
        var lines = await OutputLog.TailAsync(_file + ".missing", 10, CancellationToken.None);

        lines.Should().BeEmpty();
    }

    [Fact]
    public void ConmonArguments_UseK8sFileDriver()
    {
        OutputLog.ConmonArguments("/s/output.log").Should().Equal("--log-path", "k8s-file:/s/output.log");
    }

    [Theory]
    [InlineData("journald", false, "eas-flask_demo-0a1b2c3d", true)]
    [InlineData("JOURNALD", false, "eas-flask_demo-0a1b2c3d", true)]
    [InlineData("auto", true, "eas-flask_demo-0a1b2c3d", true)]
    [InlineData("auto", false, "eas-flask_demo-0a1b2c3d", false)]
    [InlineData("file", true, "eas-flask_demo-0a1b2c3d", false)]
    [InlineData("journald", true, "eas-fn-crash", false)]
    public void UsesJournald_PerSettingSocketAndContainerIdLength(string mode, bool socket, string containerId, bool expected)
    {
        OutputLog.UsesJournald(mode, socket, containerId).Should().Be(expected);
    }

    [Fact]
    public void ConmonArguments_Journald_TagTheServiceAndRecordTheChoice()
    {
        var context = Context("flask_demo-0a1b2c3d", "flask_demo");

        var args = OutputLog.ConmonArguments(context, "journald", journalSocketExists: true);

        args.Should().Equal("--log-path", "journald:", "--log-tag", "flask_demo");
        File.Exists(Path.Combine(context.Dir, OutputLog.JournaldMarker)).Should().BeTrue();

        // The next run with the file driver (the setting changed) reads the file again.
        OutputLog.ConmonArguments(context, "file", journalSocketExists: true).Should().Equal("--log-path", "k8s-file:" + context.OutputLogPath);
        File.Exists(Path.Combine(context.Dir, OutputLog.JournaldMarker)).Should().BeFalse();
    }

    [Fact]
    public async Task TailAsync_FileRun_ReadsOutputLogWithoutJournalctl()
    {
        var context = Context("flask_demo-0a1b2c3d", "flask_demo");
        OutputLog.ConmonArguments(context, "auto", journalSocketExists: false);
        await File.WriteAllTextAsync(context.OutputLogPath, "2024-01-01T00:00:00.000000000+00:00 stdout F from the file\n");
        var commands = new RecordingCommands("");

        var lines = await OutputLog.TailAsync(context, 10, commands, CancellationToken.None);

        lines.Should().Equal("from the file");
        commands.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task TailAsync_JournaldRun_AsksJournalctlForTheContainer()
    {
        var context = Context("flask_demo-0a1b2c3d", "flask_demo");
        OutputLog.ConmonArguments(context, "journald", journalSocketExists: true);
        var commands = new RecordingCommands("""{"MESSAGE":"hello\n"}""" + "\n");

        var lines = await OutputLog.TailAsync(context, 5, commands, CancellationToken.None);

        lines.Should().Equal("hello");
        commands.Calls.Should().ContainSingle().Which.Should().Contain("CONTAINER_ID_FULL=eas-flask_demo-0a1b2c3d").And.Contain("--output=json").And.Contain("--lines=10");
    }

    [Fact]
    public void ParseJournal_DropsConmonsNewline_JoinsPartials_DecodesByteArrays_KeepsTheLast()
    {
        var json = string.Join("\n",
            """{"MESSAGE":"one\n"}""",
            """{"MESSAGE":"tw","CONTAINER_PARTIAL_MESSAGE":"true"}""",
            """{"MESSAGE":"o\n"}""",
            """{"MESSAGE":[226,156,147,10]}""",
            """{"MESSAGE":"\n"}""",
            """{"MESSAGE":"no newline at exit"}""") + "\n";

        OutputLog.ParseJournal(json, 10).Should().Equal("one", "two", "\u2713", "", "no newline at exit");
        OutputLog.ParseJournal(json, 2).Should().Equal("", "no newline at exit");
    }

    private InstanceContext Context(string instanceId, string service)
    {
        var paths = new AgentPaths(Microsoft.Extensions.Options.Options.Create(new AgentOptions { StateDir = _stateDir }));
        var context = new InstanceContext(new InstanceRecord { Assignment = new InstanceAssignment { InstanceId = instanceId, Service = service } }, paths);
        Directory.CreateDirectory(context.Dir);
        return context;
    }

    private sealed class RecordingCommands(string stdout) : ICommandRunner
    {
        public List<List<string>> Calls { get; } = [];

        public Task<CommandResult> RunAsync(string file, IEnumerable<string> arguments, CommandOptions? options = null, CancellationToken cancellationToken = default)
        {
            Calls.Add([file, .. arguments]);
            return Task.FromResult(new CommandResult(0, stdout, ""));
        }
    }
}
