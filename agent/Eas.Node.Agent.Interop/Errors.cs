using System.Runtime.InteropServices;
using Tmds.Linux;

namespace Eas.Node.Agent.Interop;

/// <summary>errno access shared by the other interop files.</summary>
public static class Errors
{
    /// <summary>The errno of the last Tmds.LibC call on this thread (Tmds.LibC captures it after each call).</summary>
    /// see: https://man7.org/linux/man-pages/man3/errno.3.html
    public static int LastLibC => LibC.errno;

    /// <summary>The errno saved for the last [LibraryImport(SetLastError = true)] call in this assembly.</summary>
    public static int LastPInvoke => Marshal.GetLastPInvokeError();

    /// <summary>errno as "ENOENT (No such file or directory)"-like text.</summary>
    public static string Describe(int errno) => $"errno {errno} ({Marshal.GetPInvokeErrorMessage(errno)})";
}
