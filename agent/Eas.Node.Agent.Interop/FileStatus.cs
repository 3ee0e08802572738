using Tmds.Linux;

namespace Eas.Node.Agent.Interop;

/// <summary>stat(2): a file's owner and mode, and the errno that tells a dead mount (ENOTCONN) from a missing path.</summary>
public static class FileStatus
{
    /// <summary>ENOTCONN: "Transport endpoint is not connected", what a FUSE mount whose daemon died answers.</summary>
    public static int NotConnected => LibC.ENOTCONN;

    /// <summary>ECONNABORTED: what a FUSE mount answers while its daemon aborts the connection.</summary>
    public static int ConnectionAborted => LibC.ECONNABORTED;

    /// <summary>ESTALE: an NFS handle the server no longer knows.</summary>
    public static int Stale => LibC.ESTALE;

    /// <summary>ENOENT.</summary>
    public static int NotFound => LibC.ENOENT;

    /// <summary>stat(2) of <paramref name="path"/> (following links).</summary>
    /// <returns>0 with the owner's uid and st_mode filled in, or the errno.</returns>
    /// see: https://man7.org/linux/man-pages/man2/stat.2.html
    public static unsafe int Stat(string path, out uint ownerUid, out uint mode)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        stat buffer;
        fixed (byte* p = bytes)
        {
            if (LibC.stat(p, &buffer) != 0)
            {
                ownerUid = 0;
                mode = 0;
                return Errors.LastLibC;
            }
        }

        ownerUid = buffer.st_uid;
        mode = (uint)buffer.st_mode;
        return 0;
    }
}
