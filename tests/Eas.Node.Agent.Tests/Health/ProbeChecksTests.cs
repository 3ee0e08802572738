using System.Net;
using System.Net.Sockets;
using Eas.Node.Agent.Health;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.State;
using Eas.Node.Contracts.V1;
using Eas.Node.Testing;

namespace Eas.Node.Agent.Tests.Health;

/// <summary>One check of each kind against real loopback listeners (or a scripted exec).</summary>
public sealed class ProbeChecksTests
{
    private static readonly TimeSpan _timeout = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(200, true)]
    [InlineData(204, true)]
    [InlineData(302, true)]
    [InlineData(399, true)]
    [InlineData(400, false)]
    [InlineData(404, false)]
    [InlineData(500, false)]
    [InlineData(503, false)]
    public async Task Http_StatusFrom200To399_Passes(int status, bool passes)
    {
        await using var server = new ScriptedHttpServer { Status = status };
        var check = new HttpProbeCheck(new Uri($"http://127.0.0.1:{server.Port}/health?deep=1"), TimeProvider.System);

        var result = await check.CheckAsync(_timeout, CancellationToken.None);

        result.Should().Be(new ProbeResult(passes, $"GET http://127.0.0.1:{server.Port}/health?deep=1 returned {status}"));
        server.Answers.Should().ContainSingle("a redirect is not followed").Which.Path.Should().Be("/health?deep=1");
    }

    [Fact]
    public async Task Http_SlowAnswer_FailsAtTheTimeout()
    {
        await using var server = new ScriptedHttpServer { Delay = TimeSpan.FromSeconds(30) };
        var check = new HttpProbeCheck(new Uri($"http://127.0.0.1:{server.Port}/slow"), TimeProvider.System);

        var result = await check.CheckAsync(TimeSpan.FromMilliseconds(200), CancellationToken.None);

        result.Should().Be(new ProbeResult(false, $"GET http://127.0.0.1:{server.Port}/slow: no answer within 0.2 s"));
    }

    [Fact]
    public async Task Http_NothingListening_FailsWithConnectionRefused()
    {
        var port = ClosedPort();
        var check = new HttpProbeCheck(new Uri($"http://127.0.0.1:{port}/"), TimeProvider.System);

        var result = await check.CheckAsync(_timeout, CancellationToken.None);

        result.Passed.Should().BeFalse();
        result.Detail.Should().Be($"GET http://127.0.0.1:{port}/: connection refused (nothing listens on the port)");
    }

    [Fact]
    public async Task Http_Cancelled_Throws()
    {
        await using var server = new ScriptedHttpServer { Delay = TimeSpan.FromSeconds(30) };
        var check = new HttpProbeCheck(new Uri($"http://127.0.0.1:{server.Port}/"), TimeProvider.System);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        var act = () => check.CheckAsync(_timeout, cancel.Token);

        await act.Should().ThrowAsync<OperationCanceledException>("a cancelled run is not a failed check");
    }

    [Fact]
    public async Task Tcp_Listening_PassesAndClosed_FailsWithConnectionRefused()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var endpoint = (IPEndPoint)listener.LocalEndpoint;
        var check = new TcpProbeCheck(endpoint, TimeProvider.System);

        (await check.CheckAsync(_timeout, CancellationToken.None)).Passed.Should().BeTrue();

        listener.Stop();
        var closed = await check.CheckAsync(_timeout, CancellationToken.None);
        closed.Should().Be(new ProbeResult(false, $"TCP connect to {endpoint} failed: connection refused (nothing listens on the port)"));
    }

    [Fact]
    public async Task Exec_ExitCodeZeroPasses_OtherwiseFailsWithTheLastOutputLine()
    {
        var exec = new ScriptedExec(new ExecResult(0, false, ""), new ExecResult(1, false, "checking\nno /data/ready here\n"), new ExecResult(137, true, ""));
        var context = Context();
        var check = new ExecProbeCheck(exec, context, ["sh", "-c", "test -f /data/ready"]);

        (await check.CheckAsync(TimeSpan.FromSeconds(2), CancellationToken.None)).Should().Be(new ProbeResult(true, "exec `sh -c 'test -f /data/ready'` exited with code 0"));
        (await check.CheckAsync(TimeSpan.FromSeconds(2), CancellationToken.None)).Should()
            .Be(new ProbeResult(false, "exec `sh -c 'test -f /data/ready'` exited with code 1: no /data/ready here"));
        (await check.CheckAsync(TimeSpan.FromSeconds(2), CancellationToken.None)).Should()
            .Be(new ProbeResult(false, "exec `sh -c 'test -f /data/ready'` did not finish within 2 s (killed)"));
        exec.Calls.Should().AllSatisfy(c =>
        {
            c.Context.Should().BeSameAs(context);
            c.Command.Should().Equal("sh", "-c", "test -f /data/ready");
            c.Timeout.Should().Be(TimeSpan.FromSeconds(2));
        });
    }

    [Fact]
    public async Task Exec_ThatCannotStart_IsAFailedCheck()
    {
        var check = new ExecProbeCheck(new ThrowingExec(), Context(), ["true"]);

        var result = await check.CheckAsync(TimeSpan.FromSeconds(1), CancellationToken.None);

        result.Should().Be(new ProbeResult(false, "exec `true` could not run: runc is missing"));
    }

    private sealed class ThrowingExec : IContainerExec
    {
        public Task<ExecResult> ExecAsync(InstanceContext context, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken) =>
            throw new IOException("runc is missing");
    }

    /// <summary>A loopback port nothing listens on, outside the range a connect() takes its own port from.</summary>
    internal static int ClosedPort() => TestPorts.Next();

    internal static InstanceContext Context(InstanceSpec? spec = null, string ip = "127.0.0.1", string? stateDir = null)
    {
        var options = Microsoft.Extensions.Options.Options.Create(new AgentOptions { StateDir = stateDir ?? "/nonexistent-eas-test" });
        var record = new InstanceRecord
        {
            Assignment = new InstanceAssignment { InstanceId = "probe-test-1", Service = "probe_test", ServiceVersion = 1, Spec = spec ?? new InstanceSpec { Port = 8000 } },
            Ip = ip,
        };
        return new InstanceContext(record, new AgentPaths(options));
    }
}

/// <summary>An <see cref="IContainerExec"/> that answers from a script (the last answer repeats) and records its calls.</summary>
internal sealed class ScriptedExec(params ExecResult[] answers) : IContainerExec
{
    private readonly Lock _gate = new();
    private readonly List<(InstanceContext Context, IReadOnlyList<string> Command, TimeSpan Timeout)> _calls = [];

    /// <summary>The answer to the next calls, replacing the script (changeable while running).</summary>
    public ExecResult? Next { get; set; }

    public IReadOnlyList<(InstanceContext Context, IReadOnlyList<string> Command, TimeSpan Timeout)> Calls
    {
        get
        {
            lock (_gate)
            {
                return [.. _calls];
            }
        }
    }

    public Task<ExecResult> ExecAsync(InstanceContext context, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            _calls.Add((context, command, timeout));
            return Task.FromResult(Next ?? answers[Math.Min(_calls.Count, answers.Length) - 1]);
        }
    }
}
