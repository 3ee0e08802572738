using System.Text.Json;
using Eas.Node.Agent.Coordinator;
using Eas.Node.Agent.Fingerprint;
using Eas.Node.Agent.Gpus;
using Eas.Node.Agent.Health;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Metrics;
using Eas.Node.Agent.Network;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.Prepare;
using Eas.Node.Agent.Runtime;
using Eas.Node.Agent.State;
using Eas.Node.Agent.Storage;
using Eas.Node.Logging;
using Eas.Node.Logging.Systemd;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Serilog;
using Serilog.Events;

namespace Eas.Node.Agent;

/// <summary>Builds the agent host from the command line: <c>eas-agent [cleanup] [--config PATH] [--Agent:Key=value…]</c>.</summary>
public static class AgentHost
{
    /// <summary>Runs the agent (or the cleanup subcommand) and returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter error)
    {
        var build = TryBuild(args, error);
        if (build is not { } built)
        {
            return 2;
        }

        using var host = built.Host;
        try
        {
            // Validate before starting, so a bad value is one clear line, not a hosting stack trace.
            _ = host.Services.GetRequiredService<IOptions<AgentOptions>>().Value;
            if (built.Cleanup)
            {
                await host.Services.GetRequiredService<AgentCleanup>().RunAsync(CancellationToken.None);
                return 0;
            }

            await host.RunAsync();
            return 0;
        }
        catch (OptionsValidationException ex)
        {
            foreach (var failure in ex.Failures)
            {
                await error.WriteLineAsync(failure);
            }

            return 2;
        }
    }

    /// <summary>Parses the command line and config, checks keys strictly, and wires the services; null (after writing why) on a bad config.</summary>
    public static (IHost Host, bool Cleanup)? TryBuild(string[] args, TextWriter error, Action<IServiceCollection>? configure = null)
    {
        // --log journald|console|auto (or EAS_LOG) picks the log target; the rest is the agent's own command line.
        var logTarget = LogTargets.Select(args);
        if (logTarget.Error is not null)
        {
            error.WriteLine(logTarget.Error);
            return null;
        }

        args = logTarget.Rest;
        var rest = new List<string>();
        string? configPath = null;
        var cleanup = false;
        for (var i = 0; i < args.Length; i++)
        {
            if (i == 0 && args[i] == "cleanup")
            {
                cleanup = true;
            }
            else if (args[i] == "--config" && i + 1 < args.Length)
            {
                configPath = args[++i];
            }
            else if (args[i].StartsWith("--config=", StringComparison.Ordinal))
            {
                configPath = args[i]["--config=".Length..];
            }
            else if (args[i] == "--config")
            {
                error.WriteLine("--config needs a path: eas-agent [cleanup] --config /etc/eas/agent.json");
                return null;
            }
            else
            {
                rest.Add(args[i]);
            }
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = [.. rest],
            DisableDefaults = true,
            ContentRootPath = AppContext.BaseDirectory,
        });

        IConfiguration? file = null;
        if (configPath is not null)
        {
            var full = Path.GetFullPath(configPath);
            if (!File.Exists(full))
            {
                error.WriteLine($"{configPath}: config file not found; pass an existing JSON file to --config");
                return null;
            }

            try
            {
                file = new ConfigurationBuilder().AddJsonFile(full, optional: false, reloadOnChange: false).Build();
            }
            catch (Exception ex) when (ex is InvalidDataException or FormatException or JsonException)
            {
                error.WriteLine($"{configPath}: not valid JSON ({ex.InnerException?.Message ?? ex.Message}); the file must look like {{\"Agent\": {{\"NodeName\": \"n1\"}}}}");
                return null;
            }

            builder.Configuration.AddConfiguration(file);
        }

        try
        {
            builder.Configuration.AddCommandLine([.. rest]);
            _ = builder.Configuration.AsEnumerable().Count();
        }
        catch (FormatException ex)
        {
            error.WriteLine($"command line: {ex.Message}; write overrides as --Agent:Key=value");
            return null;
        }

        var source = new ConfigSource(configPath);
        var problems = ConfigChecker.Check(builder.Configuration, file, source);
        if (problems.Count > 0)
        {
            foreach (var problem in problems)
            {
                error.WriteLine(problem);
            }

            return null;
        }

        builder.Services.AddSerilog((_, logging) => logging
            .MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .MinimumLevel.Override("System.Net.Http", LogEventLevel.Warning)
            .MinimumLevel.Override("Grpc", LogEventLevel.Warning)
            .WriteTo.ConsoleOrJournald(logTarget.Target, "eas-agent", "{Timestamp:HH:mm:ss.fff} {Level:u3} {SourceContext}: {Message:lj}{NewLine}{Exception}"));

        // READY=1 once the hosted services (the coordinator loop among them) have started, WATCHDOG=1 while that loop runs.
        builder.Services.AddSystemdNotify();
        if (!cleanup)
        {
            builder.Services.AddMainLoopWatchdogCheck<CoordinatorClient>();
        }

        AddAgent(builder.Services, source, cleanup);
        configure?.Invoke(builder.Services);
        return (builder.Build(), cleanup);
    }

    private static void AddAgent(IServiceCollection services, ConfigSource source, bool cleanup)
    {
        services.AddOptions<AgentOptions>()
            .BindConfiguration(AgentOptions.SectionName)
            .PostConfigure(o =>
            {
                if (string.IsNullOrEmpty(o.NodeName))
                {
                    o.NodeName = NodeFingerprint.HostName();
                }
            })
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<AgentOptions>>(new AgentOptionsValidator(source));
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<AgentPaths>();
        services.AddSingleton<StateStore>();
        services.TryAddSingleton<ICommandRunner, CommandRunner>();
        services.AddSingleton<ExitWatcher>();
        services.AddSingleton<CgroupLayout>();
        services.AddSingleton<AgentMetrics>();
        services.AddSingleton<ConmonRuncDriver>();
        services.AddSingleton<CniRunner>();
        services.AddSingleton<NetworkNamespaces>();
        services.AddSingleton<PythonVenvs>();
        services.AddSingleton<VenvHook>();
        services.AddSingleton<IStorageDriver, GitStorageDriver>();
        services.AddSingleton<IStorageDriver, OssStorageDriver>();
        services.AddSingleton<IStorageDriver, NfsStorageDriver>();
        services.AddSingleton<IStorageDriver, CacheStorageDriver>();
        services.AddSingleton<StorageHook>();
        services.AddSingleton<NetworkHook>();
        services.AddSingleton<ContainerHook>();
        services.AddSingleton<IContainerExec>(sp => sp.GetRequiredService<ConmonRuncDriver>());
        services.AddSingleton<ProbeHook>();
        services.AddSingleton<GpuMonitor>();
        services.AddSingleton<MpsDaemons>();
        services.AddSingleton<GpuHook>();
        services.AddSingleton<InstanceHooks>();
        services.AddSingleton<StatusHub>();
        services.AddSingleton<InstanceSupervisor>();
        services.AddSingleton<AgentCleanup>();
        if (!cleanup)
        {
            services.AddHostedService(sp => sp.GetRequiredService<GpuMonitor>());
            services.AddSingleton<GpuWatchdog>();
            services.AddHostedService(sp => sp.GetRequiredService<GpuWatchdog>());
            services.AddSingleton<CoordinatorClient>();
            services.AddHostedService(sp => sp.GetRequiredService<CoordinatorClient>());

            // GET /metrics at Agent:MetricsListen (nothing listens when it is empty).
            services.AddSingleton<CgroupUsageReader>();
            services.AddSingleton<AgentMetricsCollector>();
            services.AddSingleton<MetricsListener>();
            services.AddHostedService(sp => sp.GetRequiredService<MetricsListener>());
        }
    }
}
