using Eas.Node.Gateway;
using Eas.Node.Gateway.Configuration;
using Eas.Node.Gateway.Feed;
using Eas.Node.Logging;
using Eas.Node.Logging.Systemd;
using Serilog;
using Serilog.Events;
using Serilog.Extensions.Logging;

const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
const string SocketThreads = "DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT";

// Complete socket operations on the runtime's epoll threads instead of handing each one to the thread pool: the
// gateway never blocks there, and it saves two thread switches per proxied request (see README.md, "Performance").
// Read once when the first socket is created, so it must be set before anything opens one; an operator's own
// setting (for example =0) wins.
if (Environment.GetEnvironmentVariable(InlineCompletions) is null)
{
    Environment.SetEnvironmentVariable(InlineCompletions, "1");
}

// With inline completions the runtime starts one epoll thread per core, and a request whose caller and endpoint
// sockets sit on different threads hops between them twice. On a host with at most 2 cores one thread (nginx's one
// worker) halved the gateway's p99 on loopback at the same throughput (README.md, "Performance"). Read at the same
// moment as the switch above; an operator's own setting wins.
if (Environment.GetEnvironmentVariable(SocketThreads) is null && Environment.ProcessorCount <= 2)
{
    Environment.SetEnvironmentVariable(SocketThreads, "1");
}

// --log journald|console|auto (or EAS_LOG) picks the log target; the rest is the gateway's own command line.
var logTarget = LogTargets.Select(args);
if (logTarget.Error is not null)
{
    await Console.Error.WriteLineAsync($"eas-gateway: {logTarget.Error}");
    return 2;
}

var options = GatewayConfigLoader.Load(logTarget.Rest, out var problems);
if (options is null)
{
    foreach (var problem in problems)
    {
        await Console.Error.WriteLineAsync($"eas-gateway: {problem}");
    }

    return 2;
}

Log.Logger = new LoggerConfiguration()
    .MinimumLevel.Information()
    .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
    .MinimumLevel.Override("Microsoft.Hosting.Lifetime", LogEventLevel.Information)
    .MinimumLevel.Override("Yarp", LogEventLevel.Warning)
    .Enrich.FromLogContext()
    .WriteTo.ConsoleOrJournald(logTarget.Target, "eas-gateway", "{Timestamp:HH:mm:ss.fff} [{Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}")
    .CreateLogger();

try
{
    using var loggerFactory = new SerilogLoggerFactory(Log.Logger);
    await using var app = GatewayApp.Build(options, feed: null, loggerFactory, builder =>
        // READY=1 once the listener is up, WATCHDOG=1 while the endpoint feed loop runs.
        builder.Services.AddSystemdNotify().AddMainLoopWatchdogCheck<FeedPump>());
    await app.RunAsync();
    return 0;
}
catch (IOException ex)
{
    // Kestrel reports a taken or unreachable listen address this way.
    Log.Fatal("Cannot listen on {Listen} (Gateway:Listen): {Reason}", options.Listen, ex.Message);
    return 1;
}
catch (Exception ex)
{
    Log.Fatal(ex, "eas-gateway stopped");
    return 1;
}
finally
{
    await Log.CloseAndFlushAsync();
}
