using System.Net;
using System.Threading.Channels;
using Eas.Node.Contracts.V1;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Eas.Node.Agent.Tests.Support;

/// <summary>An in-process eas.v1.Nodes server on 127.0.0.1:&lt;free port&gt; that records what the agent sends and lets a test talk back.</summary>
internal sealed class FakeCoordinator : Nodes.NodesBase, IAsyncDisposable
{
    private readonly Channel<AgentMessage> _received = Channel.CreateUnbounded<AgentMessage>();
    private Channel<CoordinatorMessage> _toAgent = Channel.CreateUnbounded<CoordinatorMessage>();
    private WebApplication? _app;
    private int _connections;

    public string Address { get; private set; } = "";

    public int Connections => _connections;

    private readonly List<AgentMessage> _all = [];

    /// <summary>Every message agents sent so far: a snapshot, safe to enumerate while more arrive.</summary>
    public IReadOnlyList<AgentMessage> All
    {
        get
        {
            lock (_all)
            {
                return [.. _all];
            }
        }
    }

    public static async Task<FakeCoordinator> StartAsync(int port = 0)
    {
        var fake = new FakeCoordinator();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(fake);
        fake._app = builder.Build();
        fake._app.MapGrpcService<FakeCoordinator>();
        await fake._app.StartAsync();
        fake.Address = fake._app.Urls.First();
        return fake;
    }

    public override async Task Connect(IAsyncStreamReader<AgentMessage> requestStream, IServerStreamWriter<CoordinatorMessage> responseStream, ServerCallContext context)
    {
        Interlocked.Increment(ref _connections);
        var outbox = Channel.CreateUnbounded<CoordinatorMessage>();
        _toAgent = outbox;
        await responseStream.WriteAsync(new CoordinatorMessage { RegisterAck = new RegisterAck { HeartbeatIntervalMs = 1000, Epoch = 1 } });
        var sender = Task.Run(async () =>
        {
            await foreach (var message in outbox.Reader.ReadAllAsync(context.CancellationToken))
            {
                await responseStream.WriteAsync(message);
            }
        });
        try
        {
            await foreach (var message in requestStream.ReadAllAsync(context.CancellationToken))
            {
                lock (_all)
                {
                    _all.Add(message);
                }

                _received.Writer.TryWrite(message);
            }
        }
        catch (IOException)
        {
            // The agent went away.
        }
        finally
        {
            outbox.Writer.TryComplete();
        }

        try
        {
            await sender;
        }
        catch (OperationCanceledException)
        {
            // The call ended.
        }
    }

    public void Send(CoordinatorMessage message) => _toAgent.Writer.TryWrite(message);

    /// <summary>The next received message matching <paramref name="match"/> (others are skipped).</summary>
    public async Task<AgentMessage> NextAsync(Func<AgentMessage, bool> match, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var message = await _received.Reader.ReadAsync(cts.Token);
                if (match(message))
                {
                    return message;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no matching message from the agent in {timeout}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            // An agent's stream never ends by itself: do not wait out Kestrel's 30 s drain.
            using var quick = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
            await _app.StopAsync(quick.Token);
            await _app.DisposeAsync();
        }
    }
}
