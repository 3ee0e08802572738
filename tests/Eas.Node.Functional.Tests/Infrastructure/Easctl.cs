using System.Diagnostics;

namespace Eas.Node.Functional.Tests.Infrastructure;

/// <summary>Runs the real easctl against a cluster, as a user's shell would.</summary>
internal static class Easctl
{
    public static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(Cluster cluster, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Repo.Easctl);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        info.Environment["EAS_COORDINATOR"] = cluster.CoordinatorUrl;
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout, await stderr);
    }
}
