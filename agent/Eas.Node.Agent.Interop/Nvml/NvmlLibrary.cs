using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Eas.Node.Agent.Interop.Nvml;

/// <summary>
/// Loads libnvidia-ml once per process and answers which of its exports exist. The [LibraryImport]s in
/// <see cref="NvmlNative"/> name the library "nvidia-ml"; the resolver maps that name to the handle loaded here, so
/// the path is a setting rather than a compile-time constant. A symbol the driver lacks is reported as
/// NVML_ERROR_NOT_SUPPORTED by <see cref="Require"/> before any call could throw EntryPointNotFoundException.
/// </summary>
internal static class NvmlLibrary
{
    internal const string ImportName = "nvidia-ml";
    internal const string DefaultPath = "libnvidia-ml.so.1";

    private static readonly Lock _gate = new();
    private static readonly ConcurrentDictionary<string, bool> _exports = new(StringComparer.Ordinal);
    private static nint _handle;
    private static string? _path;
    private static bool _resolverRegistered;

    internal static bool IsLoaded => Volatile.Read(ref _handle) != 0;

    /// <summary>Loads <paramref name="path"/> unless it (or the same file) already is; the first library loaded stays bound.</summary>
    internal static bool TryLoad(string path, out string reason)
    {
        lock (_gate)
        {
            if (!_resolverRegistered)
            {
                NativeLibrary.SetDllImportResolver(typeof(NvmlLibrary).Assembly, Resolve);
                _resolverRegistered = true;
            }

            if (_handle != 0 && string.Equals(path, _path, StringComparison.Ordinal))
            {
                reason = string.Empty;
                return true;
            }

            if (!NativeLibrary.TryLoad(path, out var handle))
            {
                reason = File.Exists(path) ? $"could not load the NVML library {path}: {LoadError(path)}" : $"no NVML library ({path} not found): this node has no GPUs";
                return false;
            }

            if (_handle == 0)
            {
                _handle = handle;
                _path = path;
                reason = string.Empty;
                return true;
            }

            // dlopen returns the same handle for the same file, whatever the path string was.
            NativeLibrary.Free(handle);
            if (handle == _handle)
            {
                reason = string.Empty;
                return true;
            }

            reason = $"the NVML library {_path} is already loaded in this process, so {path} cannot be used as well: restart the process to switch libraries";
            return false;
        }
    }

    /// <summary>Whether the loaded library exports <paramref name="symbol"/> (cached).</summary>
    internal static bool Has(string symbol)
    {
        var handle = Volatile.Read(ref _handle);
        return handle != 0 && _exports.GetOrAdd(symbol, static (name, h) => NativeLibrary.TryGetExport(h, name, out _), handle);
    }

    /// <summary>Returns <paramref name="symbol"/>, or throws NOT_SUPPORTED when the driver does not export it.</summary>
    internal static string Require(string symbol) =>
        Has(symbol)
            ? symbol
            : throw new NvmlException(NvmlReturn.NotSupported, symbol, $"the NVML library {_path ?? DefaultPath} does not export this function (the driver is too old for it)");

    /// <summary>Throws <see cref="NvmlException"/> unless <paramref name="code"/> is NVML_SUCCESS.</summary>
    internal static void Check(NvmlReturn code, string function)
    {
        if (code != NvmlReturn.Success)
        {
            throw Error(code, function);
        }
    }

    internal static NvmlException Error(NvmlReturn code, string function) => new(code, function, ErrorText(code));

    /// <summary>nvmlErrorString(code), or the C name when the library cannot say.</summary>
    internal static unsafe string ErrorText(NvmlReturn code)
    {
        if (!Has("nvmlErrorString"))
        {
            return code.CName();
        }

        var text = NvmlNative.ErrorString(code);
        return text == null ? code.CName() : Marshal.PtrToStringUTF8((nint)text) ?? code.CName();
    }

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        libraryName == ImportName ? Volatile.Read(ref _handle) : 0;

    private static string LoadError(string path)
    {
        try
        {
            NativeLibrary.Free(NativeLibrary.Load(path));
            return "it loads now; try again";
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            return e.Message;
        }
    }
}
