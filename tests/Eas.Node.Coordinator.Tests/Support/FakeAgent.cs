using System.Collections.Concurrent;
using Eas.Node.Contracts.V1;
using Grpc.Core;
using Grpc.Net.Client;

namespace Eas.Node.Coordinator.Tests.Support;

/// <summary>
/// An agent over a real Connect stream: registers, converges to every DesiredInstances it receives by
/// reporting RUNNING then READY for new instances (when <see cref="AutoReady"/>) and TERMINATING then
/// STOPPED for removed ones, and answers log requests.
/// </summary>
internal sealed class FakeAgent : IAsyncDisposable
{
    private readonly AsyncDuplexStreamingCall<AgentMessage, CoordinatorMessage> _call;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<DesiredInstances> _received = [];
    private readonly TaskCompletionSource<RegisterAck> _ack = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _readLoop = Task.CompletedTask;
    private bool _completed;

    private FakeAgent(string name, AsyncDuplexStreamingCall<AgentMessage, CoordinatorMessage> call)
    {
        Name = name;
        _call = call;
    }

    public string Name { get; }

    public bool AutoReady { get; set; } = true;

    /// <summary>Instances this predicate picks are reported Failed ("exited with code 1") instead of Ready.</summary>
    public Func<InstanceAssignment, bool> FailWhen { get; set; } = _ => false;

    /// <summary>What the agent runs, by instance id.</summary>
    public ConcurrentDictionary<string, InstanceAssignment> Running { get; } = new();

    public Task<RegisterAck> Ack => _ack.Task;

    public IReadOnlyList<DesiredInstances> Received
    {
        get
        {
            lock (_received)
            {
                return [.. _received];
            }
        }
    }

    public DesiredInstances? LastDesired => Received is [.., var last] ? last : null;

    public static async Task<FakeAgent> ConnectAsync(GrpcChannel channel, string name, long cpuMillis = 8000, long memoryMib = 16384, IEnumerable<InstanceStatus>? running = null, bool autoReady = true)
    {
        var call = new Contracts.V1.Nodes.NodesClient(channel).Connect();
        var agent = new FakeAgent(name, call) { AutoReady = autoReady };
        var register = new Register
        {
            NodeName = name,
            Address = "127.0.0.1",
            Capacity = new NodeResources { CpuMillis = cpuMillis, MemoryMib = memoryMib },
            AgentVersion = "test",
        };
        register.Labels["zone"] = "test";
        if (running is not null)
        {
            register.Instances.AddRange(running);
        }

        await agent.SendAsync(new AgentMessage { Register = register });
        agent._readLoop = Task.Run(agent.ReadLoopAsync);
        await agent.Ack.WaitAsync(TimeSpan.FromSeconds(10));
        return agent;
    }

    public static InstanceStatus Status(InstanceAssignment assignment, InstanceState state, int restarts = 0, string reason = "") => new()
    {
        InstanceId = assignment.InstanceId,
        Service = assignment.Service,
        ServiceVersion = assignment.ServiceVersion,
        State = state,
        Ip = "127.0.0.1",
        Port = assignment.Spec.Port,
        Restarts = restarts,
        Reason = reason,
        LastExitCode = -1,
        RestartNonce = assignment.RestartNonce,
    };

    public Task ReportAsync(params InstanceStatus[] statuses)
    {
        var report = new InstanceStatusReport();
        report.Instances.AddRange(statuses);
        return SendAsync(new AgentMessage { Status = report });
    }

    public Task HeartbeatAsync() =>
        SendAsync(new AgentMessage { Heartbeat = new Heartbeat { InstanceCount = Running.Count } });

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _writeLock.WaitAsync();
            _completed = true;
            await _call.RequestStream.CompleteAsync();
        }
        catch (Exception ex) when (ex is RpcException or InvalidOperationException or IOException)
        {
            // The coordinator went first.
        }
        finally
        {
            _writeLock.Release();
        }

        await _stop.CancelAsync();
        await _readLoop;
        _call.Dispose();
        _stop.Dispose();
        _writeLock.Dispose();
    }

    private async Task SendAsync(AgentMessage message)
    {
        await _writeLock.WaitAsync();
        try
        {
            if (_completed)
            {
                // Disposed while the read loop was still converging: like an agent that went away.
                return;
            }

            await _call.RequestStream.WriteAsync(message);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            await foreach (var message in _call.ResponseStream.ReadAllAsync(_stop.Token))
            {
                switch (message.BodyCase)
                {
                    case CoordinatorMessage.BodyOneofCase.RegisterAck:
                        _ack.TrySetResult(message.RegisterAck);
                        break;
                    case CoordinatorMessage.BodyOneofCase.Desired:
                        await ConvergeAsync(message.Desired);
                        break;
                    case CoordinatorMessage.BodyOneofCase.Logs:
                        var answer = new LogResponse { RequestId = message.Logs.RequestId, InstanceId = message.Logs.InstanceId };
                        answer.Lines.Add($"hello from {message.Logs.InstanceId}");
                        await SendAsync(new AgentMessage { Logs = answer });
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or RpcException or IOException or ObjectDisposedException)
        {
            // The stream ended.
        }
    }

    private async Task ConvergeAsync(DesiredInstances desired)
    {
        lock (_received)
        {
            _received.Add(desired);
        }

        var wanted = desired.Instances.ToDictionary(i => i.InstanceId);
        foreach (var (id, assignment) in Running)
        {
            if (!wanted.ContainsKey(id) && Running.TryRemove(id, out _) && AutoReady)
            {
                await ReportAsync(Status(assignment, InstanceState.Terminating));
                await ReportAsync(Status(assignment, InstanceState.Stopped));
            }
        }

        foreach (var assignment in desired.Instances)
        {
            var known = Running.TryGetValue(assignment.InstanceId, out var current);
            Running[assignment.InstanceId] = assignment;
            if (known && current!.RestartNonce >= assignment.RestartNonce)
            {
                continue;
            }

            if (AutoReady && FailWhen(assignment))
            {
                await ReportAsync(Status(assignment, InstanceState.Running));
                await ReportAsync(Status(assignment, InstanceState.Failed, reason: "exited with code 1"));
            }
            else if (AutoReady)
            {
                var restarts = known ? 1 : 0;
                await ReportAsync(Status(assignment, InstanceState.Running, restarts, known ? "restart requested" : ""));
                await ReportAsync(Status(assignment, InstanceState.Ready, restarts, known ? "restart requested" : ""));
            }
        }
    }
}
