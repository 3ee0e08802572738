using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Eas.Node.Logging.Tests;

/// <summary>
/// A Unix datagram socket bound at a temporary path, standing in for journald's socket or systemd's
/// NOTIFY_SOCKET. Receives with recvmsg so that a descriptor passed with SCM_RIGHTS (journald's memfd path) is
/// received too.
/// </summary>
internal sealed unsafe partial class DatagramListener : IDisposable
{
    private const int SolSocket = 1;
    private const int ScmRights = 1;
    private const int FGetSeals = 1034;
    private readonly string _dir;
    private readonly Socket _socket;

    public DatagramListener()
    {
        _dir = Directory.CreateTempSubdirectory("eas-log-").FullName;
        Path = System.IO.Path.Combine(_dir, "socket");
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        _socket.Bind(new UnixDomainSocketEndPoint(Path));
        _socket.ReceiveBufferSize = 4 * 1024 * 1024;
    }

    public string Path { get; }

    /// <summary>One datagram: its payload, and the content and seals (F_GET_SEALS) of the file whose descriptor came with it.</summary>
    public Datagram Receive(TimeSpan timeout)
    {
        if (!_socket.Poll(timeout, SelectMode.SelectRead))
        {
            throw new TimeoutException($"no datagram on {Path} within {timeout.TotalSeconds:0.#} s");
        }

        var buffer = new byte[4 * 1024 * 1024];
        var control = stackalloc byte[64];
        fixed (byte* data = buffer)
        {
            var iov = new Iovec { Base = data, Length = (nuint)buffer.Length };
            var message = new Msghdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = 64 };
            var added = false;
            _socket.SafeHandle.DangerousAddRef(ref added);
            nint received;
            try
            {
                received = RecvMsg((int)_socket.SafeHandle.DangerousGetHandle(), &message, 0);
            }
            finally
            {
                _socket.SafeHandle.DangerousRelease();
            }

            if (received < 0)
            {
                throw new IOException($"recvmsg failed: errno {Marshal.GetLastPInvokeError()}");
            }

            byte[]? passed = null;
            var seals = 0;
            if (message.ControlLength >= 20 && *(int*)(control + 8) == SolSocket && *(int*)(control + 12) == ScmRights)
            {
                var fd = *(int*)(control + 16);
                passed = File.ReadAllBytes($"/proc/self/fd/{fd}");
                seals = Fcntl(fd, FGetSeals, 0);
                _ = Close(fd);
            }

            return new Datagram(buffer[..(int)received], passed, seals);
        }
    }

    /// <summary>The next datagram as text (sd_notify messages).</summary>
    public string ReceiveText(TimeSpan timeout) => Encoding.UTF8.GetString(Receive(timeout).Payload);

    /// <summary>True when a datagram arrives within <paramref name="timeout"/> (it is left unread).</summary>
    public bool HasDatagram(TimeSpan timeout) => _socket.Poll(timeout, SelectMode.SelectRead);

    public void Dispose()
    {
        _socket.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    private static partial nint RecvMsg(int socket, Msghdr* message, int flags);

    [LibraryImport("libc", EntryPoint = "fcntl")]
    private static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    /// <summary>A received datagram.</summary>
    /// <param name="Payload">Its bytes.</param>
    /// <param name="PassedFile">The content of the file passed with SCM_RIGHTS, or null.</param>
    /// <param name="PassedFileSeals">That file's seals (F_SEAL_* bits).</param>
    public sealed record Datagram(byte[] Payload, byte[]? PassedFile, int PassedFileSeals);

    [StructLayout(LayoutKind.Sequential)]
    private struct Iovec
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Msghdr
    {
        public void* Name;
        public uint NameLength;
        public Iovec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }
}
