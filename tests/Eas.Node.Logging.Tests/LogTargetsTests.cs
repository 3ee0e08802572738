namespace Eas.Node.Logging.Tests;

public sealed class LogTargetsTests
{
    private static readonly ulong[] _stdio = [1111, 2222];

    [Fact]
    public void NoFlagNoSystemd_IsTheConsole_AndKeepsTheArguments()
    {
        var selection = Select(["--config", "/etc/eas/agent.json"], new());

        selection.Target.Should().Be(LogTarget.Console);
        selection.Error.Should().BeNull();
        selection.Rest.Should().Equal("--config", "/etc/eas/agent.json");
    }

    [Fact]
    public void UnitOutputIsTheJournal_IsJournald()
    {
        var selection = Select([], new() { ["JOURNAL_STREAM"] = "8:2222", ["INVOCATION_ID"] = "abc" });

        selection.Target.Should().Be(LogTarget.Journald);
        selection.Reason.Should().Contain("JOURNAL_STREAM");
    }

    [Fact]
    public void InheritedJournalStreamOfAnotherStream_DoesNotCount()
    {
        // A test runner started by systemd passes JOURNAL_STREAM on, but the daemon's output is a pipe to the test.
        var selection = Select([], new() { ["JOURNAL_STREAM"] = "8:9999" }, socket: true);

        selection.Target.Should().Be(LogTarget.Console);
    }

    [Fact]
    public void UnderSystemdWithTheJournalSocket_IsJournald()
    {
        Select([], new() { ["INVOCATION_ID"] = "abc" }, socket: true).Target.Should().Be(LogTarget.Journald);
    }

    [Fact]
    public void UnderSystemdWithoutJournald_IsTheConsole()
    {
        Select([], new() { ["INVOCATION_ID"] = "abc" }, socket: false).Target.Should().Be(LogTarget.Console);
    }

    [Theory]
    [InlineData("--log", "console")]
    [InlineData("--log=console", null)]
    [InlineData("--log=CONSOLE", null)]
    public void ConsoleFlag_WinsOverSystemd(string first, string? second)
    {
        string[] args = second is null ? ["--Agent:NodeName=n1", first] : ["--Agent:NodeName=n1", first, second];

        var selection = Select(args, new() { ["JOURNAL_STREAM"] = "8:2222", ["EAS_LOG"] = "journald" }, socket: true);

        selection.Target.Should().Be(LogTarget.Console);
        selection.Rest.Should().Equal("--Agent:NodeName=n1");
    }

    [Fact]
    public void JournaldFlag_OutsideSystemd_IsJournald()
    {
        var selection = Select(["cleanup", "--log", "journald", "--config", "x.json"], new(), socket: true);

        selection.Target.Should().Be(LogTarget.Journald);
        selection.Rest.Should().Equal("cleanup", "--config", "x.json");
    }

    [Fact]
    public void EnvironmentVariable_AppliesWithoutTheFlag()
    {
        Select([], new() { ["EAS_LOG"] = "journald" }, socket: true).Target.Should().Be(LogTarget.Journald);
        Select([], new() { ["EAS_LOG"] = "console", ["INVOCATION_ID"] = "x" }, socket: true).Target.Should().Be(LogTarget.Console);
    }

    [Fact]
    public void JournaldRequested_WithoutItsSocket_IsAnErrorNamingTheFix()
    {
        var selection = Select(["--log", "journald"], new(), socket: false);

        selection.Error.Should().Be("--log journald: journald's socket /run/systemd/journal/socket does not exist; start systemd-journald or log to the console (--log console)");
    }

    [Fact]
    public void UnknownTarget_IsAnErrorNamingTheValues()
    {
        Select(["--log", "syslog"], new()).Error.Should().Be("--log syslog: 'syslog' is not a log target; write --log journald, --log console or --log auto");
        Select([], new() { ["EAS_LOG"] = "file" }).Error.Should().Be("EAS_LOG=file: 'file' is not a log target; set EAS_LOG to journald, console or auto, or unset it");
        Select(["--log"], new()).Error.Should().Be("--log: needs a value; write --log journald, --log console or --log auto");
    }

    [Theory]
    [InlineData("8:2222", true)]
    [InlineData("8:1111", true)]
    [InlineData("8:3333", false)]
    [InlineData("garbage", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void IsJournalStream_MatchesTheInodeOfStdoutOrStderr(string? value, bool expected)
    {
        LogTargets.IsJournalStream(value, _stdio).Should().Be(expected);
    }

    private static LogSelection Select(string[] args, Dictionary<string, string> environment, bool socket = true) =>
        LogTargets.Select(args, name => environment.GetValueOrDefault(name), socket, _stdio);
}
