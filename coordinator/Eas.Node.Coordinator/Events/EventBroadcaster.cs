using System.Collections.Concurrent;
using System.Threading.Channels;
using Eas.Node.Coordinator.Store;

namespace Eas.Node.Coordinator.Events;

/// <summary>Fans out the events of every store commit to live watchers (WatchEvents streams).</summary>
public sealed class EventBroadcaster
{
    private readonly ConcurrentDictionary<Channel<EventRecord>, bool> _subscribers = new();

    /// <summary>Listens to <paramref name="store"/>'s commits.</summary>
    public EventBroadcaster(ICoordinatorStore store)
    {
        store.Committed += OnCommitted;
    }

    /// <summary>
    /// Starts receiving every event committed from now on. Subscribe before reading the backlog, then skip
    /// what the backlog already held (by seq), so that nothing falls between the two.
    /// </summary>
    public Subscription Subscribe()
    {
        var channel = Channel.CreateUnbounded<EventRecord>(new UnboundedChannelOptions { SingleReader = true });
        _subscribers[channel] = true;
        return new Subscription(this, channel);
    }

    private void OnCommitted(StoreCommit commit)
    {
        if (commit.Events.Count == 0)
        {
            return;
        }

        foreach (var subscriber in _subscribers.Keys)
        {
            foreach (var record in commit.Events)
            {
                subscriber.Writer.TryWrite(record);
            }
        }
    }

    /// <summary>A live feed of events; dispose to stop receiving.</summary>
    public sealed class Subscription : IDisposable
    {
        private readonly EventBroadcaster _owner;
        private readonly Channel<EventRecord> _channel;

        internal Subscription(EventBroadcaster owner, Channel<EventRecord> channel)
        {
            _owner = owner;
            _channel = channel;
        }

        /// <summary>The events in commit order.</summary>
        public ChannelReader<EventRecord> Reader => _channel.Reader;

        /// <inheritdoc />
        public void Dispose()
        {
            _owner._subscribers.TryRemove(_channel, out _);
            _channel.Writer.TryComplete();
        }
    }
}
