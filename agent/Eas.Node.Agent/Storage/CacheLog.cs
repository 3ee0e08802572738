using Microsoft.Extensions.Logging;

namespace Eas.Node.Agent.Storage;

/// <summary>Node-local cache log messages (event ids 960-979).</summary>
internal static partial class CacheLog
{
    [LoggerMessage(960, LogLevel.Information, "Cache entry {Key}: filling {Mib} MiB in {Files} files from {Source} with {Readers} readers")]
    public static partial void Filling(ILogger logger, string key, long mib, int files, string source, int readers);

    [LoggerMessage(961, LogLevel.Information, "Cache entry {Key}: filled {Mib} MiB from {Source} in {Seconds:0.00} s ({Rate} MiB/s)")]
    public static partial void Filled(ILogger logger, string key, long mib, string source, double seconds, long rate);

    [LoggerMessage(962, LogLevel.Information, "Cache entry {Key}: instance {Instance} reuses {Source} ({Mib} MiB)")]
    public static partial void Reused(ILogger logger, string key, string instance, string source, long mib);

    [LoggerMessage(963, LogLevel.Warning, "Cache entry {Key} was left half filled (or unflushed before a reboot); filling it again")]
    public static partial void Redoing(ILogger logger, string key);

    [LoggerMessage(964, LogLevel.Information, "Cache entry {Key} ({Source}, {Mib} MiB, unused since {LastUsed:u}) evicted to make room for {NeededMib} MiB")]
    public static partial void Evicted(ILogger logger, string key, string source, long mib, DateTimeOffset lastUsed, long neededMib);

    [LoggerMessage(965, LogLevel.Warning, "Cache entry {Key}: flushing to disk failed ({Reason}); it is filled again after a reboot")]
    public static partial void SyncFailed(ILogger logger, string key, string reason);

    [LoggerMessage(966, LogLevel.Warning, "Cache entry {Key}: the fill from {Source} failed: {Reason}")]
    public static partial void FillFailed(ILogger logger, string key, string source, string reason);

    [LoggerMessage(967, LogLevel.Information, "Cache entry {Key}: instance {Instance} released it ({Users} users left)")]
    public static partial void Released(ILogger logger, string key, string instance, int users);
}
