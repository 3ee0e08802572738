using System.Diagnostics;
using System.Text.RegularExpressions;
using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Store;
using Eas.Node.Coordinator.Tests.Support;
using Grpc.Net.Client;

namespace Eas.Node.Coordinator.Tests.Hosting;

/// <summary>The real eas-coordinator process: start, answer, be killed with SIGKILL, keep what it acknowledged.</summary>
public sealed partial class CoordinatorProcessTests : IDisposable
{
    private static readonly string _binary = Path.Combine(AppContext.BaseDirectory, "eas-coordinator.dll");
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task KilledWithSigkill_AfterCreateAnswered_ServiceAndTokenSurvive()
    {
        var dataDir = Path.Combine(_dir.Path, "data");
        using var process = Start("--Coordinator:Listen=http://127.0.0.1:0", $"--Coordinator:DataDir={dataDir}", "--Coordinator:EmbeddedGateway=false");
        ServiceInfo created;
        try
        {
            var address = await ReadListenAddressAsync(process);
            using var channel = GrpcChannel.ForAddress(address);
            var api = new Services.ServicesClient(channel);
            created = await api.CreateServiceAsync(new CreateServiceRequest { SpecJson = Specs.Demo(instances: 0) });
            await api.ScaleServiceAsync(new ScaleServiceRequest { Name = "demo", Instances = 3 });
        }
        finally
        {
            // SIGKILL: no shutdown hook, no flush; only what SQLite synced survives.
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        using var store = new SqliteCoordinatorStore(dataDir);
        var service = await store.GetServiceAsync("demo");
        service.Should().NotBeNull();
        service!.Token.Should().Be(created.Token);
        service.Replicas.Should().Be(3);
        (await store.ListEventsAsync("demo")).Select(e => e.Type).Should().StartWith(["Created", "Scaled"]);
    }

    [Fact]
    public async Task Start_UnknownConfigKey_ExitsNonZeroNamingFileAndKey()
    {
        var config = Path.Combine(_dir.Path, "coordinator.json");
        await File.WriteAllTextAsync(config, """{"Coordinator": {"Listen": "http://127.0.0.1:0", "Heartbeat": 2}}""");
        using var process = Start("--config", config);

        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        process.ExitCode.Should().NotBe(0);
        stderr.Should().Contain(config).And.Contain("Coordinator:Heartbeat").And.Contain("not a known setting");
    }

    private static Process Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(_binary);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
    }

    private static async Task<string> ReadListenAddressAsync(Process process)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            var match = ListenLine().Match(line);
            if (match.Success)
            {
                return match.Groups[1].Value;
            }
        }

        throw new InvalidOperationException($"eas-coordinator exited ({process.ExitCode}) without listening: {await process.StandardError.ReadToEndAsync()}");
    }

    [GeneratedRegex(@"Coordinator listens on (http://[0-9.]+:[0-9]+)")]
    private static partial Regex ListenLine();
}
