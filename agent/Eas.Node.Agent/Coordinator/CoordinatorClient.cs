using System.Threading.Channels;
using Eas.Node.Agent.Fingerprint;
using Eas.Node.Agent.Gpus;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Options;
using Eas.Node.Contracts.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Eas.Node.Agent.Coordinator;

/// <summary>
/// The agent's side of <c>eas.v1.Nodes/Connect</c>: one bidirectional stream; Register, a full status
/// report, then heartbeats and status changes as they happen; applies DesiredInstances and answers
/// LogRequests. Reconnects with capped exponential backoff; instances keep running meanwhile.
/// </summary>
public sealed class CoordinatorClient(
    IOptions<AgentOptions> options,
    InstanceSupervisor supervisor,
    GpuMonitor gpus,
    GpuWatchdog watchdog,
    TimeProvider time,
    ILogger<CoordinatorClient> logger) : BackgroundService
{
    /// <summary>The version reported at registration.</summary>
    public static readonly string AgentVersion = typeof(CoordinatorClient).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    private readonly AgentOptions _options = options.Value;
    private volatile bool _connected;

    /// <summary>True while a session is registered.</summary>
    public bool Connected => _connected;

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Instances come back first: they keep running and are reported in the first Register.
        await supervisor.RecoverAsync(stoppingToken);
        var backoff = ExponentialBackoff.ForReconnects(time);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    // A fresh channel per attempt: a channel that failed to connect backs off on its own schedule
                    // (up to minutes), which would delay registering after the coordinator comes back.
                    using var channel = CreateChannel();
                    await RunSessionAsync(new Nodes.NodesClient(channel), backoff, stoppingToken);
                    CoordinatorLog.StreamClosed(logger, _options.Coordinator);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (RpcException ex)
                {
                    CoordinatorLog.Disconnected(logger, _options.Coordinator, ex.StatusCode.ToString(), ex.Status.Detail);
                }
                catch (Exception ex) when (ex is IOException or HttpRequestException or InvalidOperationException)
                {
                    CoordinatorLog.Disconnected(logger, _options.Coordinator, ex.GetType().Name, ex.Message);
                }

                var delay = backoff.NextDelay();
                CoordinatorLog.Reconnecting(logger, delay);
                await Task.Delay(delay, time, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
        finally
        {
            _connected = false;
            await supervisor.DetachAllAsync();
        }
    }

    private GrpcChannel CreateChannel() => GrpcChannel.ForAddress(_options.Coordinator, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(5),
            KeepAlivePingDelay = TimeSpan.FromSeconds(20),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            EnableMultipleHttp2Connections = false,
        },
    });

    private async Task RunSessionAsync(Nodes.NodesClient client, ExponentialBackoff backoff, CancellationToken stoppingToken)
    {
        using var session = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        using var call = client.Connect(cancellationToken: session.Token);
        var snapshot = supervisor.Statuses.TakeSnapshot();
        var (epoch, generation) = supervisor.Applied;
        var register = new Register
        {
            NodeName = _options.NodeName,
            Address = _options.Address,
            Capacity = NodeFingerprint.Capacity(_options),
            AgentVersion = AgentVersion,
            AppliedEpoch = epoch,
            AppliedGeneration = generation,
            Gpus = gpus.Inventory(),
        };
        register.Labels.Add(_options.Labels);
        register.Instances.Add(snapshot);
        await call.RequestStream.WriteAsync(new AgentMessage { Register = register }, session.Token);
        var full = new InstanceStatusReport { Full = true };
        full.Instances.Add(snapshot);
        await call.RequestStream.WriteAsync(new AgentMessage { Status = full }, session.Token);

        var outbox = Channel.CreateUnbounded<AgentMessage>(new UnboundedChannelOptions { SingleReader = true });
        var heartbeatInterval = TimeSpan.FromSeconds(_options.HeartbeatSeconds);
        var background = new List<Task>();
        try
        {
            background.Add(WriteLoopAsync(call.RequestStream, outbox.Reader, session.Token));
            background.Add(StatusLoopAsync(outbox.Writer, session.Token));
            background.Add(GpuReportLoopAsync(outbox.Writer, session.Token));
            await foreach (var message in call.ResponseStream.ReadAllAsync(session.Token))
            {
                switch (message.BodyCase)
                {
                    case CoordinatorMessage.BodyOneofCase.RegisterAck:
                        if (message.RegisterAck.HeartbeatIntervalMs > 0)
                        {
                            heartbeatInterval = TimeSpan.FromMilliseconds(message.RegisterAck.HeartbeatIntervalMs);
                        }

                        if (!_connected)
                        {
                            _connected = true;
                            backoff.Started();
                            CoordinatorLog.Connected(logger, _options.Coordinator, _options.NodeName, snapshot.Count);
                            background.Add(HeartbeatLoopAsync(outbox.Writer, heartbeatInterval, session.Token));
                        }

                        break;
                    case CoordinatorMessage.BodyOneofCase.Desired:
                        supervisor.Apply(message.Desired);
                        break;
                    case CoordinatorMessage.BodyOneofCase.Logs:
                        background.Add(AnswerLogsAsync(message.Logs, outbox.Writer, session.Token));
                        break;
                    default:
                        break;
                }
            }
        }
        finally
        {
            _connected = false;
            await session.CancelAsync();
            outbox.Writer.TryComplete();
            try
            {
                await Task.WhenAll(background);
            }
            catch (Exception ex) when (ex is OperationCanceledException or RpcException or IOException or InvalidOperationException or ChannelClosedException)
            {
                // The session is over; its helpers end with it.
            }
        }
    }

    private static async Task WriteLoopAsync(IClientStreamWriter<AgentMessage> stream, ChannelReader<AgentMessage> outbox, CancellationToken token)
    {
        // gRPC allows one pending write per stream: a single writer drains the outbox.
        await foreach (var message in outbox.ReadAllAsync(token))
        {
            await stream.WriteAsync(message, token);
        }
    }

    private async Task HeartbeatLoopAsync(ChannelWriter<AgentMessage> outbox, TimeSpan interval, CancellationToken token)
    {
        using var timer = new PeriodicTimer(interval, time);
        while (await timer.WaitForNextTickAsync(token))
        {
            var heartbeat = new Heartbeat { Time = Timestamp.FromDateTimeOffset(time.GetUtcNow()), InstanceCount = supervisor.Count };
            outbox.TryWrite(new AgentMessage { Heartbeat = heartbeat });
        }
    }

    private async Task StatusLoopAsync(ChannelWriter<AgentMessage> outbox, CancellationToken token)
    {
        while (true)
        {
            await supervisor.Statuses.WaitForChangeAsync(token);
            var changes = supervisor.Statuses.TakeChanges();
            if (changes.Count > 0)
            {
                var report = new InstanceStatusReport { Full = false };
                report.Instances.Add(changes);
                outbox.TryWrite(new AgentMessage { Status = report });
            }
        }
    }

    // Health changes go out at once; usage (per GPU and per instance) every Agent:Gpu:ReportSeconds.
    private async Task GpuReportLoopAsync(ChannelWriter<AgentMessage> outbox, CancellationToken token)
    {
        if (!gpus.HasGpus)
        {
            return;
        }

        var interval = TimeSpan.FromSeconds(_options.Gpu.ReportSeconds);
        var change = gpus.WaitForChangeAsync(token);
        while (true)
        {
            await Task.WhenAny(change, Task.Delay(interval, time, token));
            token.ThrowIfCancellationRequested();
            if (change.IsCompleted)
            {
                change = gpus.WaitForChangeAsync(token);
            }

            var report = new GpuReport { Inventory = gpus.Inventory() };
            report.Instances.AddRange(watchdog.InstanceUsage);
            outbox.TryWrite(new AgentMessage { Gpus = report });
        }
    }

    private async Task AnswerLogsAsync(LogRequest request, ChannelWriter<AgentMessage> outbox, CancellationToken token)
    {
        var response = new LogResponse { RequestId = request.RequestId, InstanceId = request.InstanceId };
        try
        {
            response.Lines.Add(await supervisor.TailAsync(request.InstanceId, request.TailLines, token));
        }
        catch (Exception ex) when (ex is KeyNotFoundException or IOException or UnauthorizedAccessException)
        {
            response.Error = ex.Message;
        }

        outbox.TryWrite(new AgentMessage { Logs = response });
    }
}
