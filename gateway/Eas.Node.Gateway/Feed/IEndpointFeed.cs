using Eas.Node.Contracts.V1;

namespace Eas.Node.Gateway.Feed;

/// <summary>
/// Where the gateway's routing table comes from: a stream of full <see cref="EndpointSnapshot"/>s, each replacing the
/// table as a whole. The standalone gateway watches the coordinator over gRPC (<c>eas.v1.Endpoints/Watch</c>); the
/// coordinator, which runs the gateway in its own process, and tests may implement this directly.
/// </summary>
/// <remarks>
/// The gateway calls <see cref="WatchAsync"/> again, after a capped backoff, whenever the stream ends or fails, and
/// keeps serving the last table in the meantime. An implementation should yield the current snapshot first.
/// </remarks>
public interface IEndpointFeed
{
    /// <summary>Streams snapshots until <paramref name="cancellationToken"/> is cancelled or the source goes away.</summary>
    IAsyncEnumerable<EndpointSnapshot> WatchAsync(CancellationToken cancellationToken);
}
