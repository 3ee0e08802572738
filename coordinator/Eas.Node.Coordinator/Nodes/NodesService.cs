using Eas.Node.Contracts.V1;
using Grpc.Core;

namespace Eas.Node.Coordinator.Nodes;

/// <summary>eas.v1.Nodes: the agents' stream, served by <see cref="NodeHub"/>.</summary>
public sealed class NodesService(NodeHub hub) : Contracts.V1.Nodes.NodesBase
{
    /// <inheritdoc />
    public override Task Connect(IAsyncStreamReader<AgentMessage> requestStream, IServerStreamWriter<CoordinatorMessage> responseStream, ServerCallContext context) =>
        hub.ConnectAsync(requestStream, responseStream, context.CancellationToken);
}
