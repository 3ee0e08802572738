namespace Eas.Node.Coordinator.Endpoints;

internal static partial class EndpointFeedLog
{
    [LoggerMessage(4000, LogLevel.Information, "Gateway {Gateway} watches endpoints")]
    public static partial void Watching(ILogger logger, string gateway);

    [LoggerMessage(4001, LogLevel.Information, "Gateway {Gateway} stopped watching endpoints")]
    public static partial void Stopped(ILogger logger, string gateway);

    [LoggerMessage(4002, LogLevel.Debug, "Endpoint snapshot {Revision}: {Services} services, {Endpoints} endpoints")]
    public static partial void Published(ILogger logger, long revision, int services, int endpoints);

    [LoggerMessage(4003, LogLevel.Error, "Building the endpoint snapshot failed; retrying on the next change")]
    public static partial void BuildFailed(ILogger logger, Exception exception);
}
