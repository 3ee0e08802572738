using Eas.Node.Coordinator.Api;
using Eas.Node.Coordinator.Endpoints;
using Eas.Node.Coordinator.Events;
using Eas.Node.Coordinator.Metrics;
using Eas.Node.Coordinator.Nodes;
using Eas.Node.Coordinator.Reconciler;
using Eas.Node.Coordinator.Store;
using Eas.Node.Gateway.Metrics;
using Eas.Node.Scheduler;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Eas.Node.Coordinator.Hosting;

/// <summary>Builds the coordinator: the gRPC server, the store, the control loops and (optionally) the embedded gateway.</summary>
public static class CoordinatorHost
{
    /// <summary>
    /// Builds the coordinator application. <paramref name="configure"/> may add logging, systemd
    /// integration or a <see cref="TimeProvider"/> (tests register a fake one; the system clock is the default).
    /// </summary>
    public static WebApplication Build(CoordinatorOptions options, Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(options);

        // The empty builder reads no appsettings or environment: the coordinator's configuration is what
        // CoordinatorConfiguration validated, nothing else.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(CoordinatorHost).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.WebHost.UseKestrelCore();
        builder.WebHost.UseUrls(options.Listen);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;

            // gRPC over cleartext needs HTTP/2 with prior knowledge (h2c); HTTP/1 is not offered.
            kestrel.ConfigureEndpointDefaults(listen => listen.Protocols = HttpProtocols.Http2);
        });

        var services = builder.Services;
        services.AddRouting();
        services.AddOptions<CoordinatorOptions>()
            .Configure(o => Copy(options, o))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<CoordinatorOptions>, CoordinatorOptionsValidator>();
        services.AddSingleton<ICoordinatorStore>(sp => OpenStore(sp.GetRequiredService<IOptions<CoordinatorOptions>>().Value.DataDir));
        services.AddSingleton<PublicEndpoint>();
        services.AddSingleton<SpecCatalog>();
        services.AddSingleton<ReconcileTrigger>();
        services.AddSingleton<EventBroadcaster>();
        services.AddSingleton<NodeHub>();
        services.AddSingleton<InstanceScheduler>();
        services.AddSingleton<EndpointFeed>();
        services.AddSingleton<ServiceReconciler>();

        // GET /metrics at Coordinator:MetricsListen (nothing listens when it is empty); the embedded gateway's go there too.
        services.AddSingleton<CoordinatorMetrics>();
        services.AddSingleton(sp => new MetricsServer(
            sp.GetRequiredService<IOptions<CoordinatorOptions>>().Value.MetricsListen,
            "Coordinator:MetricsListen",
            sp.GetRequiredService<CoordinatorMetrics>().Registry,
            sp.GetRequiredService<ILoggerFactory>()));
        services.AddHostedService(sp => sp.GetRequiredService<MetricsServer>());
        services.AddHostedService(sp => sp.GetRequiredService<EndpointFeed>());
        services.AddHostedService(sp => sp.GetRequiredService<ServiceReconciler>());
        services.AddHostedService<NodeLivenessMonitor>();
        if (options.EmbeddedGateway)
        {
            services.AddSingleton<EmbeddedGatewayService>();
            services.AddHostedService(sp => sp.GetRequiredService<EmbeddedGatewayService>());
        }

        services.AddGrpc();
        services.AddGrpcReflection();
        configure?.Invoke(builder);
        services.TryAddSingleton(TimeProvider.System);

        var app = builder.Build();
        app.MapGrpcService<ServicesApi>();
        app.MapGrpcService<NodesService>();
        app.MapGrpcService<EndpointsService>();
        app.MapGrpcReflectionService();
        app.Lifetime.ApplicationStarted.Register(() => HostingLog.Listening(
            app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(CoordinatorHost)),
            string.Join(";", app.Urls),
            options.DataDir,
            app.Services.GetRequiredService<PublicEndpoint>().Value));
        return app;
    }

    private static SqliteCoordinatorStore OpenStore(string dataDir)
    {
        try
        {
            return new SqliteCoordinatorStore(dataDir);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or Microsoft.Data.Sqlite.SqliteException)
        {
            throw new InvalidOperationException(
                $"Coordinator:DataDir: cannot open {Path.Combine(dataDir, SqliteCoordinatorStore.FileName)}: {ex.Message}; make the folder writable by the coordinator or point DataDir elsewhere", ex);
        }
    }

    private static void Copy(CoordinatorOptions from, CoordinatorOptions to)
    {
        to.Listen = from.Listen;
        to.DataDir = from.DataDir;
        to.EmbeddedGateway = from.EmbeddedGateway;
        to.GatewayListen = from.GatewayListen;
        to.PublicEndpoint = from.PublicEndpoint;
        to.NodeGraceSeconds = from.NodeGraceSeconds;
        to.HeartbeatSeconds = from.HeartbeatSeconds;
        to.DeregistrationDelaySeconds = from.DeregistrationDelaySeconds;
        to.RolloutProgressDeadlineSeconds = from.RolloutProgressDeadlineSeconds;
        to.MaxRequestBodyBytes = from.MaxRequestBodyBytes;
        to.MetricsListen = from.MetricsListen;
        to.RecordsDirectory = from.RecordsDirectory;
        to.TracingOtlpEndpoint = from.TracingOtlpEndpoint;
        to.EmbeddedGatewaySettings = from.EmbeddedGatewaySettings;
    }
}
