using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Eas.Node.Functional.Tests.Infrastructure;

/// <summary>A real S3 server on loopback: s3rver from tests/tools (scripts/install-test-tools.sh installs it).</summary>
internal sealed partial class S3Server : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _dataDir;
    private readonly HttpClient _http = new();

    private S3Server(Process process, string dataDir, int port)
    {
        _process = process;
        _dataDir = dataDir;
        Endpoint = $"http://127.0.0.1:{port}";
    }

    public static string Script => Path.Combine(Repo.Root, "tests/tools/node_modules/s3rver/bin/s3rver.js");

    /// <summary>Why this host cannot run the oss storage test, or null.</summary>
    public static string? Missing =>
        !File.Exists("/usr/bin/s3fs") ? "s3fs is not installed (make deps installs it)"
        : !File.Exists("/dev/fuse") ? "/dev/fuse is missing (no FUSE here)"
        : !File.Exists("/usr/bin/node") ? "node is not installed (scripts/install-test-tools.sh installs it)"
        : !File.Exists(Script) ? $"s3rver is missing at {Script}; run scripts/install-test-tools.sh"
        : null;

    public string Endpoint { get; }

    public static async Task<S3Server> StartAsync(string bucket)
    {
        var dataDir = Directory.CreateTempSubdirectory("eas-ft-s3-").FullName;
        var start = new ProcessStartInfo("/usr/bin/node") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { Script, "-d", dataDir, "-a", "127.0.0.1", "-p", "0", "--silent", "--configure-bucket", bucket })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        _ = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (ListeningPattern().Match(line) is { Success: true } match)
            {
                _ = process.StandardOutput.ReadToEndAsync();
                return new S3Server(process, dataDir, int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture));
            }
        }

        process.Kill(entireProcessTree: true);
        Directory.Delete(dataDir, recursive: true);
        throw new InvalidOperationException("s3rver exited before it listened");
    }

    public async Task PutAsync(string bucket, string key, byte[] content)
    {
        using var body = new ByteArrayContent(content);
        using var response = await _http.PutAsync(new Uri($"{Endpoint}/{bucket}/{key}"), body);
        response.EnsureSuccessStatusCode();
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Directory.Delete(_dataDir, recursive: true);
    }

    [GeneratedRegex(@"listening on [^\s:]+:(\d+)")]
    private static partial Regex ListeningPattern();
}
