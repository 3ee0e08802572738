using Eas.Node.Contracts.V1;
using Grpc.Core;

namespace Eas.Node.Coordinator.Tests.Support;

/// <summary>Reads the coordinator's endpoint feed the way a gateway does.</summary>
internal static class EndpointFeeds
{
    /// <summary>The first route of <paramref name="service"/> on the feed that meets <paramref name="condition"/>.</summary>
    public static async Task<ServiceRoute> NextRouteAsync(AsyncServerStreamingCall<EndpointSnapshot> feed, string service, Func<ServiceRoute, bool> condition)
    {
        using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
        while (await feed.ResponseStream.MoveNext(timeout.Token))
        {
            var route = feed.ResponseStream.Current.Services.FirstOrDefault(s => s.Name == service);
            if (route is not null && condition(route))
            {
                return route;
            }
        }

        throw new InvalidOperationException("the endpoint feed ended");
    }
}
