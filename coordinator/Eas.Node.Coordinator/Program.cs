using Eas.Node.Coordinator.Hosting;
using Eas.Node.Coordinator.Reconciler;
using Eas.Node.Logging;
using Eas.Node.Logging.Systemd;
using Microsoft.Extensions.Options;
using Serilog;
using Serilog.Events;

// --log journald|console|auto (or EAS_LOG) picks the log target; the rest is the coordinator's own command line.
var logTarget = LogTargets.Select(args);
if (logTarget.Error is not null)
{
    await Console.Error.WriteLineAsync($"eas-coordinator: {logTarget.Error}");
    return 2;
}

var loaded = CoordinatorConfiguration.Load(logTarget.Rest);
if (loaded.Options is not { } options)
{
    foreach (var error in loaded.Errors)
    {
        await Console.Error.WriteLineAsync($"eas-coordinator: {error}");
    }

    return 2;
}

Log.Logger = new LoggerConfiguration()
    .MinimumLevel.Information()
    .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
    .MinimumLevel.Override("Grpc", LogEventLevel.Warning)
    .Enrich.FromLogContext()
    .WriteTo.ConsoleOrJournald(logTarget.Target, "eas-coordinator", "[{Timestamp:HH:mm:ss} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}")
    .CreateLogger();
try
{
    var app = CoordinatorHost.Build(options, builder =>
    {
        // READY=1 once the gRPC listener and the embedded gateway's listener are up, WATCHDOG=1 while the reconciler runs.
        builder.Services.AddSystemdNotify().AddMainLoopWatchdogCheck<ServiceReconciler>();
        builder.Services.AddSerilog();
    });
    await app.RunAsync();
    return 0;
}
catch (OptionsValidationException ex)
{
    foreach (var failure in ex.Failures)
    {
        await Console.Error.WriteLineAsync($"eas-coordinator: {failure}");
    }

    return 2;
}
catch (IOException ex) when (ex.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
{
    Log.Fatal("Cannot listen: {Error}; Coordinator:Listen ({Listen}) and Coordinator:GatewayListen ({GatewayListen}) must be free ports", ex.Message, options.Listen, options.GatewayListen);
    return 1;
}
catch (Exception ex)
{
    Log.Fatal(ex, "eas-coordinator stopped: {Error}", ex.Message);
    return 1;
}
finally
{
    await Log.CloseAndFlushAsync();
}
