using Tmds.Linux;

namespace Eas.Node.Agent.Interop;

/// <summary>Unmounting what the agent left mounted on the host.</summary>
public static class Mounts
{
    /// <summary>Lazily detaches the mount at <paramref name="path"/> (MNT_DETACH), so a busy mount does not block cleanup.</summary>
    /// <returns>True when unmounted; false when nothing was mounted there (EINVAL) or the path is gone (ENOENT).</returns>
    /// see: https://man7.org/linux/man-pages/man2/umount.2.html
    public static unsafe bool Detach(string path)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
        {
            if (LibC.umount2(p, LibC.MNT_DETACH) == 0)
            {
                return true;
            }
        }

        var errno = Errors.LastLibC;
        if (errno == LibC.EINVAL || errno == LibC.ENOENT)
        {
            return false;
        }

        throw new InvalidOperationException($"umount2({path}, MNT_DETACH) failed: {Errors.Describe(errno)}");
    }
}
