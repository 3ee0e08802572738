using System.Diagnostics;
using Eas.Node.Agent.Interop.Nvml;
using NvmlApi = Eas.Node.Agent.Interop.Nvml.Nvml;

namespace Eas.Node.Agent.Tests.Nvml;

/// <summary>
/// The NVML tests set process-wide environment variables (EAS_FAKE_NVML_PROFILE/STATE, read by the fake at the
/// nvmlInit that takes its refcount from 0 to 1), so they run alone, one at a time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FakeNvmlCollection
{
    public const string Name = "fake NVML";
}

/// <summary>native/fake-nvml, built once per test run (make is incremental) under a lock other test processes honour too.</summary>
internal static class FakeNvml
{
    private static readonly Lazy<string> _buildDir = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string BuildDir => _buildDir.Value;

    public static string LibraryPath => Path.Combine(BuildDir, "libnvidia-ml.so.1");

    public static string LayoutTool => Path.Combine(BuildDir, "nvml-layout");

    public static string CliPath => Path.Combine(BuildDir, "fake-nvml");

    /// <summary>Runs <paramref name="file"/> and returns its stdout; fails the test with its stderr when it exits non-zero.</summary>
    public static string Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {stderr.Result}{stdout}");
        }

        return stdout;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Eas.Node.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Eas.Node.sln above {AppContext.BaseDirectory}: run the tests from the repository checkout");
    }

    private static string Build()
    {
        var source = Path.Combine(RepoRoot, "native", "fake-nvml");
        var build = Path.Combine(source, "build");
        var missing = new[] { "make", "cc" }.Where(tool => !OnPath(tool)).ToList();
        if (missing.Count > 0)
        {
            if (File.Exists(Path.Combine(build, "libnvidia-ml.so.1")))
            {
                return build;  // built earlier; nothing here could rebuild it
            }

            throw new InvalidOperationException(
                $"the fake NVML ({source}) is not built and {string.Join(" and ", missing)} {(missing.Count == 1 ? "is" : "are")} not installed: " +
                "install a C toolchain (apt-get install build-essential) or run `make -C native/fake-nvml` where one exists");
        }

        // A second test process (or a developer's make) may build at the same time; flock serialises us.
        using var lockFile = AcquireLock(Path.Combine(Path.GetTempPath(), "eas-fake-nvml-build.lock"));
        Run("make", "-s", "-C", source);
        if (!File.Exists(Path.Combine(build, "libnvidia-ml.so.1")))
        {
            throw new InvalidOperationException($"make -C {source} succeeded but left no build/libnvidia-ml.so.1");
        }

        return build;
    }

    private static FileStream AcquireLock(string path)
    {
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(200);
            }
        }
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, tool)));
}

/// <summary>
/// One fake machine: a fresh state folder, the profile in the environment, and an open session. Dispose closes the
/// session (the fake's refcount returns to 0, so the next machine's environment applies) and removes the folder.
/// </summary>
internal sealed class FakeMachine : IDisposable
{
    private readonly bool _ownsStateDir;

    /// <param name="profile">EAS_FAKE_NVML_PROFILE, e.g. "2xH100-80GB".</param>
    /// <param name="stateDir">The machine's state folder (GPU UUIDs derive from it); a fresh one, removed on Dispose, when null.</param>
    public FakeMachine(string profile, string? stateDir = null)
    {
        _ownsStateDir = stateDir is null;
        StateDir = stateDir ?? Directory.CreateTempSubdirectory("eas-fake-nvml-").FullName;
        NvmlFake.SetEnvironment(profile, StateDir);
        var session = NvmlApi.TryOpen(FakeNvml.LibraryPath, out var reason);
        if (session is null)
        {
            Cleanup();
            throw new InvalidOperationException($"the fake NVML did not open with profile {profile}: {reason}");
        }

        Session = session;
    }

    public NvmlSession Session { get; }

    public string StateDir { get; }

    /// <summary>native/fake-nvml/build/fake-nvml --state StateDir ARGS.</summary>
    public void Cli(params string[] args) => FakeNvml.Run(FakeNvml.CliPath, ["--state", StateDir, .. args]);

    public NvmlDevice[] Devices() => [.. Enumerable.Range(0, Session.DeviceCount).Select(Session.GetDevice)];

    public void Dispose()
    {
        Session.Dispose();
        Cleanup();
    }

    private void Cleanup()
    {
        NvmlFake.SetEnvironment(null, null);
        if (_ownsStateDir)
        {
            Directory.Delete(StateDir, recursive: true);
        }
    }
}
