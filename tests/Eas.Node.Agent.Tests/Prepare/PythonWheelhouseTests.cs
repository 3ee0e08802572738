using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.Prepare;
using Eas.Node.Agent.Runtime;
using Eas.Node.Agent.State;
using Microsoft.Extensions.Logging.Abstractions;

namespace Eas.Node.Agent.Tests.Prepare;

/// <summary>
/// The real thing: python3 -m venv and pip, installing from a wheelhouse built here (an operator's local mirror),
/// pointed at through Agent:PipArgs, with no index on the network.
/// </summary>
public sealed class PythonWheelhouseTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eas-wheelhouse-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task EnsureAsync_InstallsFromALocalWheelhouse_OncePerNode_EvenWhenStartedTogether()
    {
        if (!File.Exists("/usr/bin/python3"))
        {
            Console.WriteLine("SKIP wheelhouse test: /usr/bin/python3 is missing (make deps installs it)");
            return;
        }

        var wheelhouse = Directory.CreateDirectory(Path.Combine(_dir, "wheelhouse")).FullName;
        WriteWheel(wheelhouse, "easdemo_pkg", "1.0", "VALUE = 'from the wheelhouse'\n");
        var runner = new CommandRunner();
        var options = Microsoft.Extensions.Options.Options.Create(new AgentOptions
        {
            StateDir = Path.Combine(_dir, "state"),
            PipArgs = $"--no-index --find-links {wheelhouse}",
        });
        var venvs = new PythonVenvs(options, new AgentPaths(options), runner, NullLogger<PythonVenvs>.Instance);

        var dirs = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => venvs.EnsureAsync(["easdemo_pkg==1.0"], CancellationToken.None)));

        dirs.Distinct().Should().ContainSingle();
        Directory.GetDirectories(Path.Combine(_dir, "state", "venvs")).Should().ContainSingle("one venv per requirement set on the node");
        var run = await runner.RunAsync(Path.Combine(dirs[0], "bin", "python"), ["-c", "import easdemo_pkg; print(easdemo_pkg.VALUE)"]);
        run.ExitCode.Should().Be(0, run.Stderr);
        run.Stdout.Trim().Should().Be("from the wheelhouse");

        var missing = () => venvs.EnsureAsync(["not_in_the_wheelhouse==2.0"], CancellationToken.None);
        (await missing.Should().ThrowAsync<InstanceFailedException>()).Which.Message
            .Should().Contain("not_in_the_wheelhouse", "the reason ends with pip's own words");
    }

    // A wheel is a zip with the package, METADATA, WHEEL and a RECORD of hashes: enough for pip, no build tools needed.
    private static void WriteWheel(string dir, string name, string version, string code)
    {
        var distInfo = $"{name}-{version}.dist-info";
        var files = new Dictionary<string, string>
        {
            [$"{name}/__init__.py"] = code,
            [$"{distInfo}/METADATA"] = $"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
            [$"{distInfo}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: eas-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        };
        var record = new StringBuilder();
        foreach (var (path, text) in files)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            var hash = Convert.ToBase64String(SHA256.HashData(bytes)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            record.Append(System.Globalization.CultureInfo.InvariantCulture, $"{path},sha256={hash},{bytes.Length}\n");
        }

        record.Append(System.Globalization.CultureInfo.InvariantCulture, $"{distInfo}/RECORD,,\n");
        files[$"{distInfo}/RECORD"] = record.ToString();
        using var zip = ZipFile.Open(Path.Combine(dir, $"{name}-{version}-py3-none-any.whl"), ZipArchiveMode.Create);
        foreach (var (path, text) in files)
        {
            using var writer = new StreamWriter(zip.CreateEntry(path).Open());
            writer.Write(text);
        }
    }
}
