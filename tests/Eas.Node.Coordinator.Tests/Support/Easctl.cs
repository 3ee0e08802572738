using System.Diagnostics;

namespace Eas.Node.Coordinator.Tests.Support;

/// <summary>Runs the real easctl (built next to this test assembly's configuration) against a test coordinator.</summary>
internal static class Easctl
{
    private static readonly string _dll = FindDll();

    public static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(TestCoordinator coordinator, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(_dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["EAS_COORDINATOR"] = coordinator.Address;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"easctl {string.Join(' ', args)} did not exit within 60 s");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    private static string FindDll()
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Eas.Node.sln")))
            {
                return Path.Combine(dir.FullName, "cli", "Eas.Node.Cli", "bin", configuration, "net10.0", "easctl.dll");
            }
        }

        throw new InvalidOperationException("Eas.Node.sln not found above " + AppContext.BaseDirectory);
    }
}
