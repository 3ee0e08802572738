using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Hosting;
using Eas.Node.Coordinator.Store;
using Eas.Node.Gateway.Metrics;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Eas.Node.Coordinator.Tests.Support;

/// <summary>A real coordinator on 127.0.0.1 (port 0) over a real SQLite file, with a gRPC client to it.</summary>
internal sealed class TestCoordinator : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestCoordinator(WebApplication app, CoordinatorOptions options)
    {
        _app = app;
        Options = options;
        Address = app.Urls.First();
        Channel = GrpcChannel.ForAddress(Address);
        Services = new Services.ServicesClient(Channel);
    }

    public CoordinatorOptions Options { get; }

    public string Address { get; }

    public GrpcChannel Channel { get; }

    public Services.ServicesClient Services { get; }

    public ICoordinatorStore Store => _app.Services.GetRequiredService<ICoordinatorStore>();

    /// <summary>The embedded gateway's URL, when it runs.</summary>
    public string? GatewayUrl => _app.Services.GetService<EmbeddedGatewayService>()?.Urls.FirstOrDefault();

    /// <summary>The metrics endpoint's base URL, when Coordinator:MetricsListen was set (tests leave it off by default).</summary>
    public string? MetricsUrl => _app.Services.GetRequiredService<MetricsServer>().Urls is [var first, ..] ? first : null;

    public static async Task<TestCoordinator> StartAsync(string dataDir, FakeTimeProvider? time = null, bool embeddedGateway = false, Action<CoordinatorOptions>? configure = null)
    {
        var options = new CoordinatorOptions
        {
            Listen = "http://127.0.0.1:0",
            DataDir = dataDir,
            EmbeddedGateway = embeddedGateway,
            GatewayListen = "http://127.0.0.1:0",
            PublicEndpoint = "http://127.0.0.1:8080",
            NodeGraceSeconds = 10,
            HeartbeatSeconds = 2,
            MetricsListen = "",
        };
        configure?.Invoke(options);
        var app = CoordinatorHost.Build(options, builder =>
        {
            if (time is not null)
            {
                builder.Services.AddSingleton<TimeProvider>(time);
            }
        });
        await app.StartAsync();
        return new TestCoordinator(app, options);
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
