using Microsoft.Extensions.Logging;

namespace Eas.Node.Agent.Prepare;

/// <summary>Preparation (virtual environments) log messages (event ids 500-599).</summary>
internal static partial class PrepareLog
{
    [LoggerMessage(500, LogLevel.Information, "Building virtual environment {Dir} for {Count} requirements")]
    public static partial void BuildingVenv(ILogger logger, string dir, int count);

    [LoggerMessage(501, LogLevel.Information, "Virtual environment {Dir} is ready")]
    public static partial void VenvReady(ILogger logger, string dir);

    [LoggerMessage(502, LogLevel.Warning, "Virtual environment {Dir} was left half built; rebuilding it")]
    public static partial void RebuildingVenv(ILogger logger, string dir);
}
