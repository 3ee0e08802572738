using Microsoft.Extensions.Logging;

namespace Eas.Node.Agent.Storage;

/// <summary>git storage log messages (event ids 880-889).</summary>
internal static partial class GitLog
{
    [LoggerMessage(880, LogLevel.Information, "Instance {InstanceId} storage[{Index}]: cloned {Repo} branch {Branch} at {Commit} into {Dir}")]
    public static partial void Cloned(ILogger logger, string instanceId, int index, string repo, string branch, string commit, string dir);

    [LoggerMessage(881, LogLevel.Information, "Instance {InstanceId} storage[{Index}]: removing the clone {Dir} left by an earlier start")]
    public static partial void RemovingLeftover(ILogger logger, string instanceId, int index, string dir);

    [LoggerMessage(882, LogLevel.Warning, "Instance {InstanceId} storage[{Index}]: cannot remove the failed clone {Dir}: {Reason}")]
    public static partial void CannotRemove(ILogger logger, string instanceId, int index, string dir, string reason);
}
