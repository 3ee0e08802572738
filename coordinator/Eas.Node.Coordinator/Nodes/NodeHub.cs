using System.Collections.Concurrent;
using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Gpus;
using Eas.Node.Coordinator.Hosting;
using Eas.Node.Coordinator.Reconciler;
using Eas.Node.Coordinator.Store;
using Google.Protobuf.Collections;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace Eas.Node.Coordinator.Nodes;

/// <summary>
/// Holds one Connect stream per agent: records registrations, heartbeats and instance reports in the
/// store, and sends each node the complete set of instances it must run whenever that set changes.
/// </summary>
public sealed class NodeHub
{
    /// <summary>The leader epoch; constant in SQLite mode, where this coordinator is always the leader.</summary>
    public const long Epoch = 1;

    private const int CasAttempts = 20;

    private readonly ConcurrentDictionary<string, NodeConnection> _connections = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, GpuReport> _gpuReports = new(StringComparer.Ordinal);
    private readonly ICoordinatorStore _store;
    private readonly SpecCatalog _specs;
    private readonly ReconcileTrigger _trigger;
    private readonly TimeProvider _time;
    private readonly ILogger<NodeHub> _logger;
    private readonly CoordinatorOptions _options;
    private readonly CancellationToken _stopping;

    /// <summary>Creates the hub.</summary>
    public NodeHub(ICoordinatorStore store, SpecCatalog specs, ReconcileTrigger trigger, TimeProvider time, IOptions<CoordinatorOptions> options, IHostApplicationLifetime lifetime, ILogger<NodeHub> logger)
    {
        // Streams end when the coordinator stops; otherwise the host would wait out its shutdown timeout for agents to hang up.
        _stopping = lifetime.ApplicationStopping;
        _store = store;
        _specs = specs;
        _trigger = trigger;
        _time = time;
        _logger = logger;
        _options = options.Value;
    }

    /// <summary>The node's latest GPU report (usage per GPU and per instance), or null before the first one.</summary>
    public GpuReport? LatestGpuReport(string node) => _gpuReports.GetValueOrDefault(node);

    /// <summary>What the instance uses of its GPUs at its node's latest report, or null when not known.</summary>
    public InstanceGpuUsage? GpuUsageOf(InstanceRecord instance) =>
        instance.Node is { } node && _gpuReports.TryGetValue(node, out var report)
            ? report.Instances.FirstOrDefault(u => u.InstanceId == instance.Id)
            : null;

    /// <summary>True while the node has an open stream to this coordinator.</summary>
    public bool IsConnected(string node) => _connections.ContainsKey(node);

    /// <summary>Serves one agent's stream until it ends.</summary>
    public async Task ConnectAsync(IAsyncStreamReader<AgentMessage> requests, IServerStreamWriter<CoordinatorMessage> responses, CancellationToken cancellationToken)
    {
        if (!await requests.MoveNext(cancellationToken))
        {
            return;
        }

        if (requests.Current.BodyCase != AgentMessage.BodyOneofCase.Register)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "the first message on Nodes.Connect must be Register; send Register before anything else"));
        }

        var register = requests.Current.Register;
        if (string.IsNullOrWhiteSpace(register.NodeName))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "register.node_name: must not be empty; give the agent a node name"));
        }

        var node = register.NodeName;
        await RecordRegistrationAsync(register, cancellationToken);
        if (register.Gpus is { } inventory)
        {
            _gpuReports[register.NodeName] = new GpuReport { Inventory = inventory };
        }

        NodeHubLog.Registered(_logger, node, register.Address, register.Capacity?.CpuMillis ?? 0, register.Capacity?.MemoryMib ?? 0, register.AgentVersion, register.Instances.Count);

        using var connection = new NodeConnection(node, register.AppliedEpoch == Epoch ? register.AppliedGeneration : 0);
        if (_connections.TryGetValue(node, out var previous))
        {
            NodeHubLog.Replaced(_logger, node);
            previous.Close();
        }

        _connections[node] = connection;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, connection.Closed, _stopping);
        var writer = WriteLoopAsync(connection, responses, linked.Token);
        try
        {
            connection.Outbox.Writer.TryWrite(new CoordinatorMessage
            {
                RegisterAck = new RegisterAck { HeartbeatIntervalMs = _options.HeartbeatSeconds * 1000, Epoch = Epoch },
            });
            await ApplyReportAsync(node, register.Instances, full: true, linked.Token);
            await SyncAsync(connection, linked.Token);
            _trigger.Signal();

            while (await requests.MoveNext(linked.Token))
            {
                var message = requests.Current;
                switch (message.BodyCase)
                {
                    case AgentMessage.BodyOneofCase.Heartbeat:
                        await RecordHeartbeatAsync(node, linked.Token);
                        break;
                    case AgentMessage.BodyOneofCase.Status:
                        await ApplyReportAsync(node, message.Status.Instances, message.Status.Full, linked.Token);
                        _trigger.Signal();
                        break;
                    case AgentMessage.BodyOneofCase.Gpus:
                        _gpuReports[node] = message.Gpus;
                        if (await RecordGpuInventoryAsync(node, message.Gpus.Inventory, linked.Token))
                        {
                            _trigger.Signal();
                        }

                        break;
                    case AgentMessage.BodyOneofCase.Logs:
                        if (connection.PendingLogs.TryRemove(message.Logs.RequestId, out var pending))
                        {
                            pending.TrySetResult(message.Logs);
                        }

                        break;
                    case AgentMessage.BodyOneofCase.Register:
                        throw new RpcException(new Status(StatusCode.FailedPrecondition, "Register was sent twice on one stream; open a new stream to register again"));
                }
            }
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            // The agent went away, the coordinator is stopping, or a newer stream of the same node took over.
        }
        catch (IOException ex)
        {
            NodeHubLog.StreamFailed(_logger, node, ex);
        }
        finally
        {
            _connections.TryRemove(new KeyValuePair<string, NodeConnection>(node, connection));
            connection.Close();
            await writer;
            NodeHubLog.Disconnected(_logger, node);
        }
    }

    /// <summary>Sends every connected node its desired set when it differs from what it was last sent.</summary>
    public async Task SyncAllAsync(CancellationToken cancellationToken)
    {
        foreach (var connection in _connections.Values)
        {
            try
            {
                await SyncAsync(connection, cancellationToken);
            }
            catch (OperationCanceledException) when (connection.Closed.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                // The node disconnected meanwhile; it gets the full set when it registers again.
            }
        }
    }

    /// <summary>Asks the instance's agent for its latest output lines.</summary>
    public async Task<LogResponse> RequestLogsAsync(string node, string instanceId, int tailLines, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!_connections.TryGetValue(node, out var connection))
        {
            return new LogResponse { InstanceId = instanceId, Error = $"node {node} is not connected (Down); its logs cannot be read until its agent reconnects" };
        }

        var request = new LogRequest { RequestId = Guid.NewGuid().ToString("N"), InstanceId = instanceId, TailLines = tailLines };
        var pending = new TaskCompletionSource<LogResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.PendingLogs[request.RequestId] = pending;
        try
        {
            if (!connection.Outbox.Writer.TryWrite(new CoordinatorMessage { Logs = request }))
            {
                return new LogResponse { InstanceId = instanceId, Error = $"node {node} disconnected" };
            }

            return await pending.Task.WaitAsync(timeout, _time, cancellationToken);
        }
        catch (TimeoutException)
        {
            return new LogResponse { InstanceId = instanceId, Error = $"node {node} did not answer within {timeout.TotalSeconds:0} s" };
        }
        finally
        {
            connection.PendingLogs.TryRemove(request.RequestId, out _);
        }
    }

    /// <summary>
    /// True while a removed instance that was Ready waits out the deregistration delay: the gateways have
    /// dropped it, its agent still runs it untouched, so no new request reaches an instance being signalled.
    /// </summary>
    private bool Deregistering(InstanceRecord instance, DateTimeOffset now) =>
        instance.State == InstanceState.Ready
        && instance.RemovingSince is { } since
        && now - since < TimeSpan.FromSeconds(_options.DeregistrationDelaySeconds);

    /// <summary>Marks nodes Down that have been silent past the grace period; returns how many changed.</summary>
    internal async Task<int> MarkSilentNodesDownAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var grace = TimeSpan.FromSeconds(_options.NodeGraceSeconds);
        var changed = 0;
        foreach (var node in await _store.ListNodesAsync(cancellationToken))
        {
            // A coordinator that just started gives every node a full grace period to reconnect.
            var heardAt = node.LastHeartbeat > since ? node.LastHeartbeat : since;
            if (node.Status != NodeStatus.Ready || now - heardAt <= grace)
            {
                continue;
            }

            var silent = now - node.LastHeartbeat;
            var result = await _store.CommitAsync(
                new StoreTransaction()
                    .Put(node with { Status = NodeStatus.Down })
                    .Append(new EventRecord(0, now, "", "", "NodeDown", $"node {node.Name} is Down: no heartbeat for {silent.TotalSeconds:0} s (grace {grace.TotalSeconds:0} s); its instances are replaced on other nodes", node.Name)),
                cancellationToken);
            if (result.Succeeded)
            {
                NodeHubLog.NodeDown(_logger, node.Name, silent);
                changed++;
            }
        }

        return changed;
    }

    private async Task WriteLoopAsync(NodeConnection connection, IServerStreamWriter<CoordinatorMessage> responses, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var message in connection.Outbox.Reader.ReadAllAsync(cancellationToken))
            {
                await responses.WriteAsync(message, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            // The stream ended.
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
            NodeHubLog.StreamFailed(_logger, connection.Node, ex);
            connection.Close();
        }
    }

    private async Task SyncAsync(NodeConnection connection, CancellationToken cancellationToken)
    {
        await connection.SyncLock.WaitAsync(cancellationToken);
        try
        {
            var assignments = new RepeatedField<InstanceAssignment>();
            var now = _time.GetUtcNow();
            foreach (var instance in await _store.ListInstancesAsync(null, cancellationToken))
            {
                if (instance.Node != connection.Node || (instance.Removing && !Deregistering(instance, now)))
                {
                    continue;
                }

                var spec = await _specs.GetAsync(instance.Service, instance.ServiceVersion, cancellationToken);
                if (spec is null)
                {
                    continue;
                }

                assignments.Add(new InstanceAssignment
                {
                    InstanceId = instance.Id,
                    Service = instance.Service,
                    ServiceVersion = instance.ServiceVersion,
                    Spec = InstanceSpecBuilder.Build(spec, instance.Gpu),
                    RestartNonce = instance.RestartNonce,
                });
            }

            if (connection.LastSent is not null && connection.LastSent.Equals(assignments))
            {
                return;
            }

            connection.Generation++;
            var desired = new DesiredInstances { Epoch = Epoch, Generation = connection.Generation };
            desired.Instances.AddRange(assignments);
            if (connection.Outbox.Writer.TryWrite(new CoordinatorMessage { Desired = desired }))
            {
                connection.LastSent = assignments;
                NodeHubLog.SentDesired(_logger, connection.Node, connection.Generation, assignments.Count);
            }
        }
        finally
        {
            connection.SyncLock.Release();
        }
    }

    private async Task RecordRegistrationAsync(Register register, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            var existing = await _store.GetNodeAsync(register.NodeName, cancellationToken);
            var record = GpuMapping.WithInventory(existing ?? new NodeRecord { Name = register.NodeName }, register.Gpus) with
            {
                Address = register.Address,
                CpuMillis = register.Capacity?.CpuMillis ?? 0,
                MemoryMib = register.Capacity?.MemoryMib ?? 0,
                Labels = new Dictionary<string, string>(register.Labels),
                AgentVersion = register.AgentVersion,
                Status = NodeStatus.Ready,
                LastHeartbeat = _time.GetUtcNow(),
            };
            var transaction = new StoreTransaction().Put(record);
            if (existing?.Status == NodeStatus.Down)
            {
                transaction.Append(NodeBackEvent(register.NodeName));
            }

            if ((await _store.CommitAsync(transaction, cancellationToken)).Succeeded)
            {
                return;
            }
        }

        throw new RpcException(new Status(StatusCode.Aborted, $"node {register.NodeName} could not be recorded: the store kept changing; retry"));
    }

    /// <summary>Stores a changed GPU inventory (health included); true when it changed.</summary>
    private async Task<bool> RecordGpuInventoryAsync(string node, GpuInventory? inventory, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            var existing = await _store.GetNodeAsync(node, cancellationToken);
            if (existing is null || GpuMapping.SameInventory(existing, inventory))
            {
                return false;
            }

            if ((await _store.CommitAsync(new StoreTransaction().Put(GpuMapping.WithInventory(existing, inventory)), cancellationToken)).Succeeded)
            {
                foreach (var gpu in GpuMapping.ToRecords(inventory))
                {
                    var before = existing.Gpus.FirstOrDefault(g => g.Uuid == gpu.Uuid);
                    if (before is null || before.Healthy != gpu.Healthy)
                    {
                        NodeHubLog.GpuHealth(_logger, node, gpu.Index, gpu.Uuid, gpu.Healthy ? "healthy" : "unhealthy", gpu.HealthReason);
                    }
                }

                return true;
            }
        }

        return false;
    }

    private async Task RecordHeartbeatAsync(string node, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            var existing = await _store.GetNodeAsync(node, cancellationToken);
            if (existing is null)
            {
                return;
            }

            var transaction = new StoreTransaction().Put(existing with { Status = NodeStatus.Ready, LastHeartbeat = _time.GetUtcNow() });
            if (existing.Status == NodeStatus.Down)
            {
                transaction.Append(NodeBackEvent(node));
            }

            var result = await _store.CommitAsync(transaction, cancellationToken);
            if (result.Succeeded)
            {
                if (existing.Status == NodeStatus.Down)
                {
                    NodeHubLog.NodeBack(_logger, node);
                    _trigger.Signal();
                }

                return;
            }
        }
    }

    private EventRecord NodeBackEvent(string node) =>
        new(0, _time.GetUtcNow(), "", "", "NodeBack", $"node {node} is back; it stops whatever moved away while it was Down", node);

    private async Task ApplyReportAsync(string node, IEnumerable<InstanceStatus> statuses, bool full, CancellationToken cancellationToken)
    {
        var reported = new HashSet<string>(StringComparer.Ordinal);
        foreach (var status in statuses)
        {
            reported.Add(status.InstanceId);
            if (status.State == InstanceState.Unspecified)
            {
                continue;
            }

            await UpdateInstanceAsync(status.InstanceId, node, instance => InstanceTransitions.Apply(instance, status, node, _time.GetUtcNow()), cancellationToken);
        }

        if (!full)
        {
            return;
        }

        foreach (var instance in await _store.ListInstancesAsync(null, cancellationToken))
        {
            if (instance.Node == node && !reported.Contains(instance.Id))
            {
                await UpdateInstanceAsync(instance.Id, node, current => InstanceTransitions.Missing(current, node, _time.GetUtcNow()), cancellationToken);
            }
        }
    }

    private async Task UpdateInstanceAsync(
        string instanceId,
        string node,
        Func<InstanceRecord, (InstanceRecord Updated, IReadOnlyList<EventRecord> Events)> change,
        CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            var instance = await _store.GetInstanceAsync(instanceId, cancellationToken);
            if (instance is null || instance.Node != node)
            {
                // Unknown here or moved elsewhere: it is not in this node's desired set, so the agent stops it.
                NodeHubLog.UnknownInstance(_logger, node, instanceId);
                return;
            }

            var (updated, events) = change(instance);
            if (ReferenceEquals(updated, instance) && events.Count == 0)
            {
                return;
            }

            var transaction = new StoreTransaction().Put(updated);
            foreach (var record in events)
            {
                transaction.Append(record);
            }

            if ((await _store.CommitAsync(transaction, cancellationToken)).Succeeded)
            {
                return;
            }
        }
    }
}
