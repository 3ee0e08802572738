using Eas.Node.Coordinator.Hosting;
using Microsoft.Extensions.Options;
using Serilog;
using Serilog.Events;

var loaded = CoordinatorConfiguration.Load(args);
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
    .WriteTo.Console(outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}")
    .CreateLogger();
try
{
    var app = CoordinatorHost.Build(options, builder =>
    {
        builder.Host.UseSystemd();
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
