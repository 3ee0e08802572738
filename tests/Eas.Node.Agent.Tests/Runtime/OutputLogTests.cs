using Eas.Node.Agent.Runtime;

namespace Eas.Node.Agent.Tests.Runtime;

public sealed class OutputLogTests : IDisposable
{
    private readonly string _file = Path.GetTempFileName();

    public void Dispose() => File.Delete(_file);

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
}
