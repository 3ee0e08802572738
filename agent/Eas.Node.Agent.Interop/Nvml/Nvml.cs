namespace Eas.Node.Agent.Interop.Nvml;

/// <summary>Entry point of the NVML binding.</summary>
public static class Nvml
{
    /// <summary>
    /// Loads the library (<paramref name="libraryPath"/>, or "libnvidia-ml.so.1" from the loader's search path) and calls
    /// nvmlInit_v2. Never throws: without the library the result is null and <paramref name="reason"/> says
    /// "no NVML library (… not found): this node has no GPUs"; when NVML does not initialise, the reason names its error.
    /// The first library loaded stays bound for the life of the process.
    /// </summary>
    public static NvmlSession? TryOpen(string? libraryPath, out string reason)
    {
        var path = string.IsNullOrWhiteSpace(libraryPath) ? NvmlLibrary.DefaultPath : libraryPath;
        try
        {
            if (!NvmlLibrary.TryLoad(path, out reason))
            {
                return null;
            }

            NvmlReturn code;
            string function;
            if (NvmlLibrary.Has("nvmlInit_v2"))
            {
                (function, code) = ("nvmlInit_v2", NvmlNative.Init());
            }
            else if (NvmlLibrary.Has("nvmlInit"))
            {
                (function, code) = ("nvmlInit", NvmlNative.InitV1());
            }
            else
            {
                reason = $"{path} exports neither nvmlInit_v2 nor nvmlInit: it is not an NVML library; point the NVML library path at libnvidia-ml.so.1";
                return null;
            }

            if (code != NvmlReturn.Success)
            {
                reason = $"NVML did not initialise: {function}: {NvmlLibrary.ErrorText(code)} ({code.CName()}); check that the NVIDIA kernel driver is loaded (nvidia-smi)";
                return null;
            }

            var session = new NvmlSession();
            try
            {
                session.ReadVersions();
            }
            catch (NvmlException e)
            {
                session.Dispose();
                reason = $"NVML initialised but could not report the driver version: {e.Message}";
                return null;
            }

            reason = string.Empty;
            return session;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or InvalidOperationException)
        {
            reason = $"could not use the NVML library {path}: {e.Message}";
            return null;
        }
    }
}

/// <summary>
/// An initialised NVML (one nvmlInit_v2 reference; <see cref="Dispose"/> gives it back with nvmlShutdown). NVML is
/// thread-safe, and so is this object. Devices, instances and event sets obtained from it are valid until it is disposed.
/// </summary>
public sealed class NvmlSession : IDisposable
{
    private int _disposed;

    internal NvmlSession()
    {
    }

    /// <summary>nvmlSystemGetDriverVersion, e.g. "550.54.15".</summary>
    public string DriverVersion { get; private set; } = string.Empty;

    /// <summary>nvmlSystemGetCudaDriverVersion, e.g. 12040; 0 when unknown.</summary>
    public int CudaDriverVersion { get; private set; }

    /// <summary>"12.4" for 12040; empty when <see cref="CudaDriverVersion"/> is unknown.</summary>
    public string CudaDriverVersionText =>
        CudaDriverVersion <= 0 ? string.Empty : $"{CudaDriverVersion / 1000}.{CudaDriverVersion % 1000 / 10}";

    /// <summary>nvmlDeviceGetCount_v2, read on each access (it counts devices the caller may not be allowed to open).</summary>
    public unsafe int DeviceCount
    {
        get
        {
            ThrowIfDisposed();
            var fn = NvmlLibrary.Require("nvmlDeviceGetCount_v2");
            uint count;
            NvmlLibrary.Check(NvmlNative.DeviceGetCount(&count), fn);
            return (int)count;
        }
    }

    /// <summary>nvmlDeviceGetHandleByIndex_v2. NVML indexes need not match CUDA's; key devices by UUID.</summary>
    public unsafe NvmlDevice GetDevice(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ThrowIfDisposed();
        var fn = NvmlLibrary.Require("nvmlDeviceGetHandleByIndex_v2");
        nint handle;
        NvmlLibrary.Check(NvmlNative.DeviceGetHandleByIndex((uint)index, &handle), fn);
        return new NvmlDevice(handle);
    }

    /// <summary>nvmlDeviceGetHandleByUUID: a GPU ("GPU-…") or a MIG device ("MIG-…").</summary>
    public unsafe NvmlDevice GetDeviceByUuid(string uuid)
    {
        ArgumentException.ThrowIfNullOrEmpty(uuid);
        ThrowIfDisposed();
        var fn = NvmlLibrary.Require("nvmlDeviceGetHandleByUUID");
        var bytes = System.Text.Encoding.UTF8.GetBytes(uuid + "\0");
        nint handle;
        fixed (byte* p = bytes)
        {
            NvmlLibrary.Check(NvmlNative.DeviceGetHandleByUuid(p, &handle), fn);
        }

        return new NvmlDevice(handle);
    }

    /// <summary>nvmlEventSetCreate; register devices on the set, then call <see cref="NvmlEventSet.Wait"/> from one thread.</summary>
    public NvmlEventSet CreateEventSet()
    {
        ThrowIfDisposed();
        var fn = NvmlLibrary.Require("nvmlEventSetCreate");
        var code = NvmlNative.EventSetCreate(out var handle);
        if (code != NvmlReturn.Success)
        {
            handle.SetHandleAsInvalid();
            throw NvmlLibrary.Error(code, fn);
        }

        return new NvmlEventSet(handle);
    }

    /// <summary>nvmlShutdown, once; later calls do nothing.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && NvmlLibrary.Has("nvmlShutdown"))
        {
            _ = NvmlNative.Shutdown();
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    internal unsafe void ReadVersions()
    {
        var fn = NvmlLibrary.Require("nvmlSystemGetDriverVersion");
        var buffer = stackalloc byte[NvmlNative.DriverVersionBufferSize];
        NvmlLibrary.Check(NvmlNative.SystemGetDriverVersion(buffer, NvmlNative.DriverVersionBufferSize), fn);
        DriverVersion = NvmlStrings.FromUtf8(buffer, NvmlNative.DriverVersionBufferSize);

        int cuda = 0;
        var code = NvmlLibrary.Has("nvmlSystemGetCudaDriverVersion") ? NvmlNative.SystemGetCudaDriverVersion(&cuda)
            : NvmlLibrary.Has("nvmlSystemGetCudaDriverVersion_v2") ? NvmlNative.SystemGetCudaDriverVersionV2(&cuda)
            : NvmlReturn.FunctionNotFound;
        CudaDriverVersion = code == NvmlReturn.Success && cuda > 0 ? cuda : 0;
    }
}
