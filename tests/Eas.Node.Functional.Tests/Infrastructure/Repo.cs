namespace Eas.Node.Functional.Tests.Infrastructure;

/// <summary>Where the repository and the built daemons are, seen from the test assembly.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    /// <summary>The configuration this test assembly was built with (Debug or Release); the daemons match it.</summary>
    public static string Configuration { get; } =
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    public static string Dll(string project, string assembly) =>
        Path.Combine(Root, project, "bin", Configuration, "net10.0", assembly + ".dll");

    public static string Coordinator => Dll("coordinator/Eas.Node.Coordinator", "eas-coordinator");

    public static string Agent => Dll("agent/Eas.Node.Agent", "eas-agent");

    public static string Easctl => Dll("cli/Eas.Node.Cli", "easctl");

    /// <summary>The fake libnvidia-ml.so.1 (make fake-nvml builds it).</summary>
    public static string FakeNvmlLibrary => Path.Combine(Root, "native/fake-nvml/build/libnvidia-ml.so.1");

    /// <summary>The fake NVML's CLI: xid, lost, clear, process.</summary>
    public static string FakeNvmlCli => Path.Combine(Root, "native/fake-nvml/build/fake-nvml");

    /// <summary>The stand-in for nvidia-cuda-mps-control.</summary>
    public static string FakeMpsControl => Path.Combine(Root, "native/fake-nvml/build/fake-mps-control");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Eas.Node.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Eas.Node.sln not found above " + AppContext.BaseDirectory);
    }
}
