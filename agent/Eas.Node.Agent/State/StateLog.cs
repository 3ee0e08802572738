using Microsoft.Extensions.Logging;

namespace Eas.Node.Agent.State;

/// <summary>State directory log messages (event ids 600-699).</summary>
internal static partial class StateLog
{
    [LoggerMessage(600, LogLevel.Warning, "Instance directory {Dir} has no instance.json; leaving it alone")]
    public static partial void RecordMissing(ILogger logger, string dir);

    [LoggerMessage(602, LogLevel.Warning, "Instance directory {Dir} has no instance.json and no runner (a start cut short); removing it")]
    public static partial void LeftoverRemoved(ILogger logger, string dir);

    [LoggerMessage(601, LogLevel.Error, "Instance record {File} cannot be read ({Problem}); leaving it alone")]
    public static partial void RecordUnreadable(ILogger logger, string file, string problem);
}
