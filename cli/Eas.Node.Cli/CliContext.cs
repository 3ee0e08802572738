using System.CommandLine;
using Eas.Node.Contracts.V1;
using Grpc.Core;
using Grpc.Net.Client;

namespace Eas.Node.Cli;

/// <summary>What every command needs: the coordinator client, and one way to turn failures into exit codes.</summary>
internal sealed class CliContext : IDisposable
{
    /// <summary>Exit code for a refused request (bad spec, unknown service).</summary>
    public const int ExitRefused = 1;

    /// <summary>Exit code when the coordinator cannot be reached.</summary>
    public const int ExitUnavailable = 3;

    public const string DefaultCoordinator = "http://127.0.0.1:9090";

    public static readonly Option<string> CoordinatorOption = new("--coordinator")
    {
        Description = "The coordinator's gRPC address (env EAS_COORDINATOR; default " + DefaultCoordinator + ")",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("EAS_COORDINATOR") is { Length: > 0 } fromEnv
            ? fromEnv
            : DefaultCoordinator,
    };

    private readonly GrpcChannel _channel;

    private CliContext(string address)
    {
        Address = address;
        _channel = GrpcChannel.ForAddress(address);
        Services = new Services.ServicesClient(_channel);
    }

    public string Address { get; }

    public Services.ServicesClient Services { get; }

    public void Dispose() => _channel.Dispose();

    /// <summary>Runs one command body against the coordinator and maps failures to a message on stderr and an exit code.</summary>
    public static async Task<int> RunAsync(ParseResult parse, Func<CliContext, Task<int>> body)
    {
        var address = parse.GetValue(CoordinatorOption) ?? DefaultCoordinator;
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
        {
            return Fail($"--coordinator: '{address}' is not an http(s) URL; use for example {DefaultCoordinator}", ExitRefused);
        }

        using var context = new CliContext(address);
        try
        {
            return await body(context);
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
        {
            return Fail($"cannot reach the coordinator at {address} ({e.Status.Detail}); is eas-coordinator running? (`make demo` starts one)", ExitUnavailable);
        }
        catch (RpcException e)
        {
            return Fail(Describe(e), ExitRefused);
        }
        catch (CliException e)
        {
            return Fail(e.Message, e.ExitCode);
        }
        catch (OperationCanceledException)
        {
            return Fail("interrupted", 130);
        }
    }

    public static int Fail(string message, int exitCode)
    {
        Console.Error.WriteLine($"easctl: {message}");
        return exitCode;
    }

    private static string Describe(RpcException e) => e.StatusCode switch
    {
        StatusCode.InvalidArgument => "the coordinator refused the request:\n" + e.Status.Detail,
        StatusCode.NotFound => e.Status.Detail,
        StatusCode.AlreadyExists => e.Status.Detail,
        _ => $"{e.StatusCode}: {e.Status.Detail}",
    };
}

/// <summary>A failure the user can act on; its message is printed as is.</summary>
internal sealed class CliException(string message, int exitCode = CliContext.ExitRefused) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
