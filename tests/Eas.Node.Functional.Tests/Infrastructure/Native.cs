using System.Runtime.InteropServices;

namespace Eas.Node.Functional.Tests.Infrastructure;

internal static partial class Native
{
    public const int SigTerm = 15;
    public const int SigKill = 9;

    /// <summary>see: https://man7.org/linux/man-pages/man2/kill.2.html</summary>
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    /// <summary>see: https://man7.org/linux/man-pages/man2/geteuid.2.html</summary>
    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEuid();
}
