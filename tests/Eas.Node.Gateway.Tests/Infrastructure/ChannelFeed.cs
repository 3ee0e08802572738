using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Eas.Node.Contracts.V1;
using Eas.Node.Gateway.Feed;

namespace Eas.Node.Gateway.Tests.Infrastructure;

/// <summary>The feed seam driven by the test: every pushed snapshot reaches the gateway as the coordinator's would.</summary>
public sealed class ChannelFeed : IEndpointFeed
{
    private readonly Channel<EndpointSnapshot> _snapshots = Channel.CreateUnbounded<EndpointSnapshot>();

    public void Push(EndpointSnapshot snapshot) => _snapshots.Writer.TryWrite(snapshot);

    public async IAsyncEnumerable<EndpointSnapshot> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (await _snapshots.Reader.WaitToReadAsync(cancellationToken))
        {
            while (_snapshots.Reader.TryRead(out var snapshot))
            {
                yield return snapshot;
            }
        }
    }
}
