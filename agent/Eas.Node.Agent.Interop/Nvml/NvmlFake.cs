using System.Runtime.InteropServices;

namespace Eas.Node.Agent.Interop.Nvml;

/// <summary>
/// Selects the machine the fake libnvidia-ml (native/fake-nvml) shows. The fake reads these variables with getenv()
/// at the nvmlInit that takes its refcount from 0 to 1; on Linux Environment.SetEnvironmentVariable changes only
/// .NET's copy of the environment, so they are set here with setenv(3) as well. Call before
/// <see cref="Nvml.TryOpen"/>, while no other thread reads the environment natively (setenv is not thread-safe).
/// </summary>
public static partial class NvmlFake
{
    /// <summary>A profile such as "2xH100-80GB" or "1xH100-80GB-MIG", or the path of a machine .json.</summary>
    public const string ProfileVariable = "EAS_FAKE_NVML_PROFILE";

    /// <summary>The fake's runtime state folder (events, gpu&lt;N&gt;.lost, gpu&lt;N&gt;.processes); GPU UUIDs derive from it.</summary>
    public const string StateVariable = "EAS_FAKE_NVML_STATE";

    /// <summary>Sets (or, for null, removes) both variables in the native and the managed environment.</summary>
    public static void SetEnvironment(string? profile, string? stateDir)
    {
        Set(ProfileVariable, profile);
        Set(StateVariable, stateDir);
    }

    private static void Set(string name, string? value)
    {
        Environment.SetEnvironmentVariable(name, value);
        var result = value is null ? UnsetEnv(name) : SetEnv(name, value, 1);
        if (result != 0)
        {
            throw new InvalidOperationException($"{(value is null ? "unsetenv" : "setenv")}({name}) failed: {Errors.Describe(Errors.LastPInvoke)}");
        }
    }

    /// see: https://man7.org/linux/man-pages/man3/setenv.3.html
    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int SetEnv(string name, string value, int overwrite);

    /// see: https://man7.org/linux/man-pages/man3/setenv.3.html
    [LibraryImport("libc", EntryPoint = "unsetenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int UnsetEnv(string name);
}
