using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Eas.Node.Functional.Tests.Infrastructure;
using Eas.Node.Testing;

namespace Eas.Node.Functional.Tests;

/// <summary>
/// The daemons as systemd runs a Type=notify unit with WatchdogSec=: NOTIFY_SOCKET points at a datagram socket the
/// test binds and WATCHDOG_USEC is set. Each daemon sends READY=1 once its listeners accept connections, then
/// WATCHDOG=1 every half of the timeout, and STOPPING=1 on SIGTERM before it exits cleanly.
/// </summary>
public sealed class SystemdNotifyTests : IDisposable
{
    private static readonly TimeSpan _startTimeout = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("eas-notify-").FullName;
    private readonly Socket _systemd;
    private readonly string _socketPath;
    private readonly StringBuilder _output = new();
    private readonly List<Process> _started = [];

    public SystemdNotifyTests()
    {
        _socketPath = Path.Combine(_dir, "notify");
        _systemd = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        _systemd.Bind(new UnixDomainSocketEndPoint(_socketPath));
    }

    [Fact]
    public async Task Coordinator_ReadyWhenGrpcAndGatewayListen_WatchdogPings_StoppingOnSigterm()
    {
        var grpc = TestPorts.Next();
        var gateway = TestPorts.Next();
        var daemon = Start(Repo.Coordinator,
            $"--Coordinator:Listen=http://127.0.0.1:{grpc}", $"--Coordinator:DataDir={Path.Combine(_dir, "coordinator")}", $"--Coordinator:GatewayListen=http://127.0.0.1:{gateway}", "--Coordinator:MetricsListen=");

        await ExpectReadyThenWatchdogAsync(daemon);
        Connects(grpc).Should().BeTrue("READY=1 comes after the gRPC listener is up");
        Connects(gateway).Should().BeTrue("and after the embedded gateway's listener is up");
        await ExpectStoppingAndCleanExitAsync(daemon);
    }

    [Fact]
    public async Task Gateway_ReadyWhenItListens_WatchdogPings_StoppingOnSigterm()
    {
        var listen = TestPorts.Next();

        // The coordinator it watches is not there: the gateway serves (and pings) while its feed loop retries.
        var daemon = Start(Repo.Dll("gateway/Eas.Node.Gateway", "eas-gateway"),
            $"--Gateway:Listen=http://127.0.0.1:{listen}", $"--Gateway:Coordinator=http://127.0.0.1:{TestPorts.Next()}", "--Gateway:MetricsListen=");

        await ExpectReadyThenWatchdogAsync(daemon);
        Connects(listen).Should().BeTrue("READY=1 comes after the listener is up");
        await ExpectStoppingAndCleanExitAsync(daemon);
    }

    [ClusterFact]
    public async Task Agent_ReadyWhenItsLoopsRun_EvenWithoutCoordinator_WatchdogPings_StoppingOnSigterm()
    {
        var tag = (Environment.ProcessId % 10000).ToString(CultureInfo.InvariantCulture);
        var config = Path.Combine(_dir, "agent.json");
        await File.WriteAllTextAsync(config, $$"""
            { "Agent": { "NodeName": "notify-{{tag}}", "Coordinator": "http://127.0.0.1:{{TestPorts.Next()}}", "StateDir": "{{Path.Combine(_dir, "agent")}}",
              "Bridge": "easnt{{tag}}", "Subnet": "10.239.{{Environment.ProcessId % 250}}.0/24", "Gpu": { "NvmlLibrary": "libnvidia-ml.so.1" }, "MetricsListen": "" } }
            """);

        // Registration is retried in the background: a coordinator that is down must not fail the unit's start.
        var daemon = Start(Repo.Agent, "--config", config);
        await ExpectReadyThenWatchdogAsync(daemon);
        await ExpectStoppingAndCleanExitAsync(daemon);

        var cleanup = Start(Repo.Agent, "cleanup", "--config", config);
        cleanup.WaitForExit(60_000).Should().BeTrue();
    }

    public void Dispose()
    {
        foreach (var process in _started)
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(10_000);
            }

            process.Dispose();
        }

        _systemd.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private Process Start(string dll, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // What systemd sets for Type=notify with WatchdogSec=2 (WATCHDOG_PID is left out: the pid is dotnet's, known only after the start).
        info.Environment["NOTIFY_SOCKET"] = _socketPath;
        info.Environment["WATCHDOG_USEC"] = "2000000";
        info.Environment["EAS_LOG"] = "console";
        var process = Process.Start(info)!;
        _started.Add(process);
        process.OutputDataReceived += (_, e) => Output(e.Data);
        process.ErrorDataReceived += (_, e) => Output(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private void Output(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    private async Task ExpectReadyThenWatchdogAsync(Process daemon)
    {
        (await ReceiveAsync(_startTimeout, daemon)).Should().Be("READY=1");
        (await ReceiveAsync(TimeSpan.FromSeconds(5), daemon)).Should().Be("WATCHDOG=1");
        (await ReceiveAsync(TimeSpan.FromSeconds(5), daemon)).Should().Be("WATCHDOG=1", "pings repeat every half of WATCHDOG_USEC");
    }

    private async Task ExpectStoppingAndCleanExitAsync(Process daemon)
    {
        Native.Kill(daemon.Id, Native.SigTerm).Should().Be(0);
        string message;
        do
        {
            message = await ReceiveAsync(TimeSpan.FromSeconds(10), daemon);
        }
        while (message == "WATCHDOG=1");

        message.Should().Be("STOPPING=1");
        (await Task.Run(() => daemon.WaitForExit(30_000))).Should().BeTrue("the daemon stops after SIGTERM");
        daemon.ExitCode.Should().Be(0, Output());
    }

    private async Task<string> ReceiveAsync(TimeSpan timeout, Process daemon)
    {
        var buffer = new byte[4096];
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            var received = await _systemd.ReceiveAsync(buffer, SocketFlags.None, cancel.Token);
            return Encoding.UTF8.GetString(buffer, 0, received);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no notification within {timeout.TotalSeconds:0} s (daemon exited: {daemon.HasExited}); its output:\n{Output()}");
        }
    }

    private string Output()
    {
        lock (_output)
        {
            return _output.ToString();
        }
    }

    private static bool Connects(int port)
    {
        using var client = new TcpClient();
        try
        {
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
