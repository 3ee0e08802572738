using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;

namespace Eas.Node.Logging;

/// <summary>
/// The libc calls journald's large-entry path needs: a sealed memfd holding the entry, passed with SCM_RIGHTS
/// (see https://systemd.io/JOURNAL_NATIVE_PROTOCOL/ and man 2 memfd_create, man 7 unix).
/// </summary>
[SupportedOSPlatform("linux")]
internal static unsafe partial class Native
{
    private const uint MfdCloexec = 0x0001;
    private const uint MfdAllowSealing = 0x0002;
    private const int FAddSeals = 1033;
    private const int FSealSeal = 0x0001;
    private const int FSealShrink = 0x0002;
    private const int FSealGrow = 0x0004;
    private const int FSealWrite = 0x0008;
    private const int SolSocket = 1;
    private const int ScmRights = 1;
    private const int MsgNoSignal = 0x4000;
    private const int Eintr = 4;
    private const ushort AfUnix = 1;

    /// <summary>Writes <paramref name="data"/> to a sealed memfd and sends its descriptor, with no payload, to <paramref name="path"/>.</summary>
    /// <returns>0, or the errno of the call that failed.</returns>
    public static int SendAsMemfd(SafeHandle socket, string path, ReadOnlySpan<byte> data)
    {
        var fd = MemfdCreate("journal-entry", MfdCloexec | MfdAllowSealing);
        if (fd < 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        try
        {
            fixed (byte* start = data)
            {
                var written = 0;
                while (written < data.Length)
                {
                    var n = Write(fd, start + written, (nuint)(data.Length - written));
                    if (n < 0)
                    {
                        var errno = Marshal.GetLastPInvokeError();
                        if (errno == Eintr)
                        {
                            continue;
                        }

                        return errno;
                    }

                    written += (int)n;
                }
            }

            if (Fcntl(fd, FAddSeals, FSealSeal | FSealShrink | FSealGrow | FSealWrite) < 0)
            {
                return Marshal.GetLastPInvokeError();
            }

            return SendFd(socket, path, fd);
        }
        finally
        {
            _ = Close(fd);
        }
    }

    private static int SendFd(SafeHandle socket, string path, int fd)
    {
        var address = new SockaddrUn { Family = AfUnix };
        var pathBytes = Encoding.UTF8.GetBytes(path);
        if (pathBytes.Length >= 108)
        {
            return 36; // ENAMETOOLONG
        }

        var pathSpan = new Span<byte>(address.Path, 108);
        pathBytes.CopyTo(pathSpan);
        if (pathBytes.Length > 0 && pathBytes[0] == (byte)'@')
        {
            pathSpan[0] = 0; // an abstract socket name
        }

        // cmsghdr { size_t len; int level; int type; } + one int, padded to 8 bytes: CMSG_SPACE(sizeof(int)) = 24.
        var control = stackalloc byte[24];
        new Span<byte>(control, 24).Clear();
        *(nuint*)control = 16 + sizeof(int);
        *(int*)(control + 8) = SolSocket;
        *(int*)(control + 12) = ScmRights;
        *(int*)(control + 16) = fd;

        var message = new Msghdr
        {
            Name = &address,
            NameLength = (uint)(2 + pathBytes.Length + (pathBytes.Length > 0 && pathBytes[0] == (byte)'@' ? 0 : 1)),
            Control = control,
            ControlLength = 24,
        };

        var added = false;
        try
        {
            socket.DangerousAddRef(ref added);
            while (true)
            {
                if (SendMsg((int)socket.DangerousGetHandle(), &message, MsgNoSignal) >= 0)
                {
                    return 0;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno != Eintr)
                {
                    return errno;
                }
            }
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    private static partial nint SendMsg(int socket, Msghdr* message, int flags);

    [StructLayout(LayoutKind.Sequential)]
    private struct SockaddrUn
    {
        public ushort Family;
        public fixed byte Path[108];
    }

    /// <summary>struct msghdr on 64-bit Linux.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Msghdr
    {
        public void* Name;
        public uint NameLength;
        public void* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }
}
