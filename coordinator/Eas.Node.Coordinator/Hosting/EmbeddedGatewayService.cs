using Eas.Node.Coordinator.Metrics;
using Eas.Node.Gateway;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Eas.Node.Coordinator.Hosting;

/// <summary>
/// Runs the gateway inside the coordinator process. It is an ordinary gateway: it watches this
/// coordinator's endpoint feed over loopback gRPC, so it starts once the coordinator's own listener is up.
/// </summary>
public sealed class EmbeddedGatewayService(IOptions<CoordinatorOptions> options, IServer server, ILoggerFactory loggerFactory, CoordinatorMetrics metrics)
    : IHostedLifecycleService, IAsyncDisposable
{
    private WebApplication? _gateway;

    /// <summary>The gateway's listen URLs once started.</summary>
    public IReadOnlyCollection<string> Urls => _gateway?.Urls.ToList() ?? [];

    /// <inheritdoc />
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        var coordinator = LoopbackUrl(server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? options.Value.Listen);
        // The config file's Gateway section (LLM routing, record sizes, OTLP protocol) plus what the Coordinator section holds.
        var settings = options.Value.EmbeddedGatewaySettings;
        var gatewayOptions = new GatewayOptions
        {
            Listen = options.Value.GatewayListen,
            Coordinator = coordinator,
            MaxRequestBodyBytes = options.Value.MaxRequestBodyBytes,
            Name = "embedded",
            Llm = settings.Llm,
            Records = settings.Records,
            Tracing = settings.Tracing,
        };
        gatewayOptions.Records.Directory = options.Value.EffectiveRecordsDirectory;
        gatewayOptions.Tracing.OtlpEndpoint = options.Value.TracingOtlpEndpoint;
        // Its request metrics go into the coordinator's registry, served at Coordinator:MetricsListen.
        _gateway = GatewayApp.Build(gatewayOptions, loggerFactory, metrics.Registry);
        await _gateway.StartAsync(cancellationToken);
        HostingLog.GatewayStarted(loggerFactory.CreateLogger<EmbeddedGatewayService>(), string.Join(";", _gateway.Urls), coordinator);
    }

    /// <inheritdoc />
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        // Stop taking requests before the coordinator's own listener goes away.
        if (_gateway is not null)
        {
            await _gateway.StopAsync(cancellationToken);
        }
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
            _gateway = null;
        }
    }

    /// <summary>The coordinator's address as seen from this host: a wildcard listen address becomes 127.0.0.1.</summary>
    internal static string LoopbackUrl(string address)
    {
        var uri = new UriBuilder(address.Replace("://+:", "://0.0.0.0:", StringComparison.Ordinal).Replace("://*:", "://0.0.0.0:", StringComparison.Ordinal));
        if (uri.Host is "0.0.0.0" or "[::]" or "::")
        {
            uri.Host = "127.0.0.1";
        }

        return uri.Uri.GetLeftPart(UriPartial.Authority);
    }
}
