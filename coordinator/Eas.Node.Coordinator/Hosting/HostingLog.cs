namespace Eas.Node.Coordinator.Hosting;

internal static partial class HostingLog
{
    [LoggerMessage(5000, LogLevel.Information, "Embedded gateway listens on {Listen}, fed by {Coordinator}")]
    public static partial void GatewayStarted(ILogger logger, string listen, string coordinator);

    [LoggerMessage(5001, LogLevel.Information, "Coordinator listens on {Listen} (data in {DataDir}); services are reached at {PublicEndpoint}/api/predict/<name>")]
    public static partial void Listening(ILogger logger, string listen, string dataDir, string publicEndpoint);
}
