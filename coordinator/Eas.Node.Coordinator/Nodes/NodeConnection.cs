using System.Collections.Concurrent;
using System.Threading.Channels;
using Eas.Node.Contracts.V1;
using Google.Protobuf.Collections;

namespace Eas.Node.Coordinator.Nodes;

/// <summary>One agent's open Connect stream: an outbox drained by a single writer, and what it was last told.</summary>
internal sealed class NodeConnection : IDisposable
{
    private readonly CancellationTokenSource _closed = new();

    public NodeConnection(string node, long appliedGeneration)
    {
        Node = node;
        Generation = appliedGeneration;
    }

    public string Node { get; }

    /// <summary>Messages for the agent; IServerStreamWriter allows one writer at a time, so everything goes through here.</summary>
    public Channel<CoordinatorMessage> Outbox { get; } = Channel.CreateUnbounded<CoordinatorMessage>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Serializes desired-set pushes so generations go out in order.</summary>
    public SemaphoreSlim SyncLock { get; } = new(1, 1);

    /// <summary>The last generation sent (starts at what the agent says it applied, so it only grows).</summary>
    public long Generation { get; set; }

    /// <summary>The assignments last sent; a push that would repeat them is skipped.</summary>
    public RepeatedField<InstanceAssignment>? LastSent { get; set; }

    public ConcurrentDictionary<string, TaskCompletionSource<LogResponse>> PendingLogs { get; } = new();

    public CancellationToken Closed => _closed.Token;

    public void Close()
    {
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already disposed by the stream that owned it.
        }

        Outbox.Writer.TryComplete();
        foreach (var pending in PendingLogs.Values)
        {
            pending.TrySetResult(new LogResponse { Error = $"node {Node} disconnected" });
        }
    }

    public void Dispose()
    {
        Close();
        _closed.Dispose();
        SyncLock.Dispose();
    }
}
