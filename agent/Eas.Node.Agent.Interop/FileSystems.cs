using System.Runtime.InteropServices;

namespace Eas.Node.Agent.Interop;

/// <summary>statfs(2): which file system a path lives on (Tmds.LibC has statvfs, which lacks f_type).</summary>
public static partial class FileSystems
{
    /// <summary>CGROUP2_SUPER_MAGIC from linux/magic.h.</summary>
    public const long Cgroup2Magic = 0x63677270;

    /// <summary>TMPFS_MAGIC from linux/magic.h.</summary>
    public const long TmpfsMagic = 0x01021994;

    /// <summary>The f_type magic of the file system holding <paramref name="path"/>.</summary>
    /// <exception cref="InvalidOperationException">statfs failed (for example the path does not exist).</exception>
    public static long GetType(string path)
    {
        if (StatFs(path, out var buffer) != 0)
        {
            throw new InvalidOperationException($"statfs({path}) failed: {Errors.Describe(Errors.LastPInvoke)}");
        }

        return buffer.Type;
    }

    /// see: https://man7.org/linux/man-pages/man2/statfs.2.html
    [LibraryImport("libc", EntryPoint = "statfs", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int StatFs(string path, out StatFsBuffer buffer);
}

/// <summary>struct statfs on 64-bit Linux (x86-64 and aarch64 share this layout: 120 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct StatFsBuffer
{
    /// <summary>f_type: the file system magic.</summary>
    public long Type;

    /// <summary>f_bsize.</summary>
    public long BlockSize;

    /// <summary>f_blocks.</summary>
    public ulong Blocks;

    /// <summary>f_bfree.</summary>
    public ulong BlocksFree;

    /// <summary>f_bavail.</summary>
    public ulong BlocksAvailable;

    /// <summary>f_files.</summary>
    public ulong Files;

    /// <summary>f_ffree.</summary>
    public ulong FilesFree;

    /// <summary>f_fsid (two ints).</summary>
    public long FsId;

    /// <summary>f_namelen.</summary>
    public long NameLength;

    /// <summary>f_frsize.</summary>
    public long FragmentSize;

    /// <summary>f_flags.</summary>
    public long Flags;

    /// <summary>f_spare[4].</summary>
    public long Spare0;

    /// <summary>f_spare[1].</summary>
    public long Spare1;

    /// <summary>f_spare[2].</summary>
    public long Spare2;

    /// <summary>f_spare[3].</summary>
    public long Spare3;
}
