using System.Net;
using Eas.Node.Gateway.Feed;
using Eas.Node.Gateway.Llm;
using Eas.Node.Gateway.Logging;
using Eas.Node.Gateway.Metrics;
using Eas.Node.Gateway.Proxy;
using Eas.Node.Gateway.Records;
using Eas.Node.Gateway.Routing;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Eas.Node.Gateway;

/// <summary>
/// Builds the gateway: a <see cref="WebApplication"/> with its own Kestrel listener and a one-middleware pipeline
/// that serves <c>/api/predict/&lt;service&gt;[/sub/path]</c>. The standalone <c>eas-gateway</c> runs it; the
/// coordinator embeds it and calls <c>StartAsync</c>/<c>StopAsync</c> (and disposes it) itself.
/// </summary>
public static class GatewayApp
{
    /// <summary>
    /// Builds a gateway fed by <see cref="GatewayOptions.StaticRoutes"/> when set, else by the coordinator's
    /// <c>eas.v1.Endpoints/Watch</c> stream at <see cref="GatewayOptions.Coordinator"/>.
    /// </summary>
    /// <param name="options">Validated on the spot; invalid options throw <see cref="OptionsValidationException"/>.</param>
    /// <param name="loggerFactory">The host's logging; the caller keeps ownership. Null logs nothing.</param>
    public static WebApplication Build(GatewayOptions options, ILoggerFactory? loggerFactory = null) =>
        Build(options, feed: null, loggerFactory, configure: null);

    /// <summary>Builds a gateway whose routing table comes from <paramref name="feed"/> (in-process coordinator, tests).</summary>
    /// <param name="options">Validated on the spot; <see cref="GatewayOptions.Coordinator"/> and <see cref="GatewayOptions.StaticRoutes"/> are not used.</param>
    /// <param name="feed">The snapshot source; the caller keeps ownership.</param>
    /// <param name="loggerFactory">The host's logging; the caller keeps ownership. Null logs nothing.</param>
    public static WebApplication Build(GatewayOptions options, IEndpointFeed feed, ILoggerFactory? loggerFactory = null) =>
        Build(options, feed ?? throw new ArgumentNullException(nameof(feed)), loggerFactory, configure: null);

    /// <summary>
    /// Builds a gateway fed by the coordinator (as <see cref="Build(GatewayOptions, ILoggerFactory?)"/>) whose request
    /// metrics go into <paramref name="metricsRegistry"/>: the host's own registry, when the host serves its metrics itself
    /// (the coordinator with its embedded gateway).
    /// </summary>
    public static WebApplication Build(GatewayOptions options, ILoggerFactory? loggerFactory, Prometheus.CollectorRegistry metricsRegistry) =>
        Build(options, feed: null, loggerFactory, configure: null, metricsRegistry ?? throw new ArgumentNullException(nameof(metricsRegistry)));

    internal static WebApplication Build(
        GatewayOptions options,
        IEndpointFeed? feed,
        ILoggerFactory? loggerFactory,
        Action<WebApplicationBuilder>? configure,
        Prometheus.CollectorRegistry? metricsRegistry = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new OptionsValidationException(GatewayOptions.SectionName, typeof(GatewayOptions), problems);
        }

        // The empty builder brings no configuration sources, logging providers, host filtering or routing: the
        // gateway's pipeline is exactly what is added below, whatever process it runs in.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(GatewayApp).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.WebHost.UseKestrelCore();
        builder.WebHost.UseSockets(sockets =>
        {
            // With DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 the runtime completes socket operations on its epoll
            // threads; letting Kestrel run the (never blocking) pipeline there too saves two thread-pool hops per
            // request. Without the switch both stay on the thread pool, the safe default for a shared process.
            sockets.UnsafePreferInlineScheduling = OperatingSystem.IsLinux()
                && Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") == "1";
        });
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;

            // HTTP/1.1 and cleartext HTTP/2 (gRPC callers) on the same listener; HTTP/2 requests keep their :scheme.
            kestrel.ConfigureEndpointDefaults(H2cPriorKnowledge.Enable);
            kestrel.AllowAlternateSchemes = true;
        });

        var services = builder.Services;
        services.AddSingleton<ILoggerFactory>(new QuietLoggerFactory(loggerFactory ?? NullLoggerFactory.Instance));
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(options);
        services.AddHttpForwarder();
        services.AddSingleton(_ => CreateInvoker());
        services.AddSingleton<RouteStore>();
        services.AddSingleton<PredictHandler>();

        // Its own registry (with the process's CPU, memory and GC figures) unless the host shares one.
        if (metricsRegistry is null)
        {
            metricsRegistry = Prometheus.Metrics.NewCustomRegistry();
            Prometheus.DotNetStats.Register(metricsRegistry);
        }

        var gatewayMetrics = new GatewayMetrics(metricsRegistry);
        services.AddSingleton(gatewayMetrics);
        services.AddSingleton(sp => new LlmRouter(options.Llm, metricsRegistry, metricsClient: null, sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IRequestAwarePicker>(sp => new LlmRequestPicker(sp.GetRequiredService<LlmRouter>(), options));
        services.AddSingleton(sp => new CallRecorder(options.Records, metricsRegistry, sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<TimeProvider>()));
        if (!string.IsNullOrWhiteSpace(options.MetricsListen))
        {
            services.AddSingleton(sp => new MetricsServer(options.MetricsListen, "Gateway:MetricsListen", metricsRegistry, sp.GetRequiredService<ILoggerFactory>()));
            services.AddHostedService(sp => sp.GetRequiredService<MetricsServer>());
        }

        string source;
        if (feed is not null)
        {
            services.AddSingleton(feed);
            source = "an in-process feed";
        }
        else if (options.StaticRoutes is not null)
        {
            services.AddSingleton<IEndpointFeed>(new StaticRoutesFeed(options.StaticRoutes));
            source = $"static routes file {options.StaticRoutes}";
        }
        else
        {
            services.AddSingleton<IEndpointFeed>(_ => new GrpcEndpointFeed(new Uri(options.Coordinator), options.Name));
            source = $"coordinator {options.Coordinator}";
        }

        services.AddHostedService<FeedPump>();
        var tracing = options.Tracing;
        if (!string.IsNullOrWhiteSpace(tracing?.OtlpEndpoint))
        {
            // Registered by factory so that the container disposes it with the app, which flushes the last spans.
            services.AddSingleton(_ => CreateTracerProvider(tracing));
        }

        configure?.Invoke(builder);

        var app = builder.Build();
        foreach (var url in GatewayOptions.SplitListen(options.Listen))
        {
            app.Urls.Add(url);
        }

        var routes = app.Services.GetRequiredService<RouteStore>();
        gatewayMetrics.TrackInstances(() => routes.Current.Services.SelectMany(s => s.Endpoints.Select(e => (s.Name, e.InstanceId, e.Outstanding))));

        var handler = app.Services.GetRequiredService<PredictHandler>();
        app.Run(handler.InvokeAsync);

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(GatewayApp).FullName!);
        if (app.Services.GetService<TracerProvider>() is not null)
        {
            GatewayLog.TracingOn(logger, tracing!.OtlpEndpoint!, tracing.OtlpProtocol);
        }

        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var urls = string.Join(", ", app.Urls);
            GatewayLog.Started(logger, urls, source);
        });
        return app;
    }

    /// <summary>
    /// The OTLP exporter of the gateway's spans (<see cref="GatewayTracing.Source"/> only: no ASP.NET Core or HttpClient
    /// spans). Its listener is what makes the source start spans at all.
    /// </summary>
    private static TracerProvider CreateTracerProvider(GatewayTracingOptions tracing)
    {
        var grpc = tracing.OtlpProtocol == GatewayTracingOptions.Grpc;
        var endpoint = tracing.OtlpEndpoint!.TrimEnd('/');
        return Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateDefault().AddService("eas-gateway"))
            .AddSource(GatewayTracing.SourceName)
            .AddOtlpExporter(otlp =>
            {
                otlp.Protocol = grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                otlp.Endpoint = new Uri(grpc ? endpoint : endpoint + "/v1/traces");
                otlp.BatchExportProcessorOptions.ScheduledDelayMilliseconds = 1000;
            })
            .Build();
    }

    /// <summary>
    /// One shared invoker for every endpoint: pooled keep-alive connections, no proxy, cookies, redirects,
    /// decompression or tracing headers — the gateway passes requests through, it does not act as a client.
    /// </summary>
    private static HttpMessageInvoker CreateInvoker() => new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        ActivityHeadersPropagator = null,
        ConnectTimeout = TimeSpan.FromSeconds(5),
        // EAS's dedicated gateway keeps idle backend connections for 30 s.
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        EnableMultipleHttp2Connections = true,
    }, disposeHandler: true);
}
