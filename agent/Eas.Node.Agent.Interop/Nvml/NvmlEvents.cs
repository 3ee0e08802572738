using System.Runtime.InteropServices;
using Eas.Node.Agent.Interop.Nvml.Abi;

namespace Eas.Node.Agent.Interop.Nvml;

/// <summary>
/// An owned nvmlEventSet_t. Register devices, then call <see cref="Wait"/> in a loop on one dedicated thread
/// (it blocks in the driver for up to the timeout). Disposing frees the set once no Wait is in progress.
/// </summary>
public sealed class NvmlEventSet : IDisposable
{
    private readonly NvmlEventSetHandle _handle;

    internal NvmlEventSet(NvmlEventSetHandle handle) => _handle = handle;

    /// <summary>
    /// Registers <paramref name="device"/> for XidCriticalError, masked by the types it supports. Returns false when
    /// the device cannot report XIDs (NOT_SUPPORTED; the set stays usable for other devices).
    /// </summary>
    public unsafe bool RegisterXidEvents(NvmlDevice device)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        var supportedFn = NvmlLibrary.Require("nvmlDeviceGetSupportedEventTypes");
        ulong supported;
        var code = NvmlNative.DeviceGetSupportedEventTypes(device.Handle, &supported);
        if (code == NvmlReturn.NotSupported)
        {
            return false;
        }

        NvmlLibrary.Check(code, supportedFn);
        var mask = supported & NvmlEventTypes.XidCriticalError;
        if (mask == 0)
        {
            return false;
        }

        var fn = NvmlLibrary.Require("nvmlDeviceRegisterEvents");
        code = NvmlNative.DeviceRegisterEvents(device.Handle, mask, _handle);
        if (code == NvmlReturn.NotSupported)
        {
            return false;
        }

        NvmlLibrary.Check(code, fn);
        return true;
    }

    /// <summary>
    /// nvmlEventSetWait_v2: the next event, or null when none came within <paramref name="timeout"/> (NVML also
    /// answers TIMEOUT when the wait is interrupted). Throws <see cref="NvmlException"/> otherwise, e.g. GPU_IS_LOST.
    /// </summary>
    public unsafe NvmlEvent? Wait(TimeSpan timeout)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        var milliseconds = (uint)Math.Clamp(timeout.TotalMilliseconds, 0, uint.MaxValue - 1);
        var data = new EventData { GpuInstanceId = NvmlNative.NotAttributable, ComputeInstanceId = NvmlNative.NotAttributable };
        var v2 = NvmlLibrary.Has("nvmlEventSetWait_v2");
        var fn = v2 ? "nvmlEventSetWait_v2" : NvmlLibrary.Require("nvmlEventSetWait");
        var code = v2 ? NvmlNative.EventSetWaitV2(_handle, &data, milliseconds) : NvmlNative.EventSetWaitV1(_handle, &data, milliseconds);
        if (code == NvmlReturn.Timeout)
        {
            return null;
        }

        NvmlLibrary.Check(code, fn);
        return new NvmlEvent(new NvmlDevice(data.Device), data.EventType, data.Data, data.GpuInstanceId, data.ComputeInstanceId);
    }

    /// <summary>nvmlEventSetFree (deferred until a running <see cref="Wait"/> returns).</summary>
    public void Dispose() => _handle.Dispose();
}

/// <summary>Owns an nvmlEventSet_t; frees it with nvmlEventSetFree.</summary>
internal sealed class NvmlEventSetHandle : SafeHandle
{
    public NvmlEventSetHandle()
        : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    // After the session's nvmlShutdown the free answers UNINITIALIZED; the set is gone either way.
    protected override bool ReleaseHandle()
    {
        if (NvmlLibrary.Has("nvmlEventSetFree"))
        {
            _ = NvmlNative.EventSetFree(handle);
        }

        return true;
    }
}
