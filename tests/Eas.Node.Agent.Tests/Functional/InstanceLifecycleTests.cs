using System.Diagnostics;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Interop;
using Eas.Node.Agent.Runtime;
using Eas.Node.Agent.Tests.Support;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Eas.Node.Agent.Tests.Functional;

/// <summary>Real runc + conmon + CNI through the supervisor and runner (no coordinator).</summary>
[Collection(AgentFunctionalCollection.Name)]
public sealed class InstanceLifecycleTests(ITestOutputHelper output)
{
    [RootFact]
    public async Task Instance_StartKillStop_ReadyLimitedRestartedAndNothingLeft()
    {
        await using var env = new AgentTestEnvironment();
        using var host = env.BuildHost("http://127.0.0.1:1");
        var supervisor = host.Services.GetRequiredService<InstanceSupervisor>();
        var hub = supervisor.Statuses;
        supervisor.Recover();
        var assignment = AgentTestEnvironment.HttpServer("fn-life", memoryMib: 256, shmMib: 128, requirements: "flask");

        var watch = Stopwatch.StartNew();
        supervisor.Apply(new DesiredInstances { Epoch = 1, Generation = 1, Instances = { assignment } });
        var ready = await AgentTestEnvironment.WaitForAsync(hub, "fn-life", s => s.State == InstanceState.Ready, TimeSpan.FromSeconds(120));
        output.WriteLine($"READY after {watch.ElapsedMilliseconds} ms (includes building the flask venv) at {ready.Ip}:{ready.Port}");

        // It answers over its CNI address.
        ready.Ip.Should().StartWith(env.Subnet[..^4]);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var response = await http.GetAsync(new Uri($"http://{ready.Ip}:{ready.Port}/"));
        response.IsSuccessStatusCode.Should().BeTrue();

        // /dev/shm is sized, the memory limit is the spec's, the venv is first on PATH.
        var mounts = await env.ExecAsync("fn-life", "cat", "/proc/self/mountinfo");
        mounts.Split('\n').Should().Contain(l => l.Contains(" /dev/shm ", StringComparison.Ordinal) && l.Contains("size=131072k", StringComparison.Ordinal));
        var cgroups = new CgroupLayout();
        var hostLimit = (await File.ReadAllTextAsync(cgroups.MemoryLimitFile("eas-fn-life"))).Trim();
        hostLimit.Should().Be((256L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture));
        var insideLimit = await env.ExecAsync("fn-life", "/bin/sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max");
        insideLimit.Trim().Should().Be(hostLimit);
        var prefix = await env.ExecAsync("fn-life", "/bin/sh", "-c", "python3 -c 'import flask, sys; print(sys.prefix)'; echo $GREETING $EAS_INSTANCE_ID $PORT");
        prefix.Should().Contain(Path.Combine(env.StateDir, "venvs")).And.Contain("hello fn-life 8000");

        // kill -9 → restarted in place (same address), restart count 1.
        var runner = supervisor.Find("fn-life")!;
        var pid = runner.Context.Process!.Value.Pid;
        Signals.Send(pid, Signals.Kill).Should().BeTrue();
        var restarted = await AgentTestEnvironment.WaitForAsync(hub, "fn-life", s => s.Restarts == 1 && s.State == InstanceState.Ready, TimeSpan.FromSeconds(30));
        restarted.LastExitCode.Should().Be(137);
        restarted.Ip.Should().Be(ready.Ip);
        runner.Context.Process!.Value.Pid.Should().NotBe(pid);

        // Remove the assignment → STOPPED and nothing left behind.
        supervisor.Apply(new DesiredInstances { Epoch = 1, Generation = 2 });
        await AgentTestEnvironment.WaitForAsync(hub, "fn-life", s => s.State == InstanceState.Stopped, TimeSpan.FromSeconds(30));
        (await env.LeftoversAsync("fn-life")).Should().BeEmpty();
        Directory.Exists(Path.Combine(env.StateDir, "instances", "fn-life")).Should().BeFalse();
    }

    [RootFact]
    public async Task Instance_OverItsMemoryLimit_IsReportedAsOomKilled()
    {
        await using var env = new AgentTestEnvironment();
        using var host = env.BuildHost("http://127.0.0.1:1");
        var supervisor = host.Services.GetRequiredService<InstanceSupervisor>();
        supervisor.Recover();
        var assignment = AgentTestEnvironment.HttpServer("fn-oom", memoryMib: 64);
        assignment.Spec.Script = "exec python3 -c \"b = bytearray(256 * 1024 * 1024); print(len(b))\"";

        supervisor.Apply(new DesiredInstances { Epoch = 1, Generation = 1, Instances = { assignment } });

        var killed = await AgentTestEnvironment.WaitForAsync(supervisor.Statuses, "fn-oom", s => s.Restarts >= 1, TimeSpan.FromSeconds(30));
        killed.Reason.Should().StartWith("OOMKilled").And.Contain("metadata.memory");
        supervisor.Apply(new DesiredInstances { Epoch = 1, Generation = 2 });
        await AgentTestEnvironment.WaitForAsync(supervisor.Statuses, "fn-oom", s => s.State == InstanceState.Stopped, TimeSpan.FromSeconds(30));
    }

    [RootFact]
    public async Task Instance_BadCommand_RestartsWithBackoffAndReportsExitCode()
    {
        await using var env = new AgentTestEnvironment();
        using var host = env.BuildHost("http://127.0.0.1:1");
        var supervisor = host.Services.GetRequiredService<InstanceSupervisor>();
        supervisor.Recover();
        var assignment = AgentTestEnvironment.HttpServer("fn-crash");
        assignment.Spec.Script = "echo about to fail; exit 3";

        supervisor.Apply(new DesiredInstances { Epoch = 1, Generation = 1, Instances = { assignment } });

        var crashed = await AgentTestEnvironment.WaitForAsync(supervisor.Statuses, "fn-crash", s => s.Restarts >= 1, TimeSpan.FromSeconds(30));
        crashed.LastExitCode.Should().Be(3);
        (await supervisor.TailAsync("fn-crash", 10, CancellationToken.None)).Should().Contain("about to fail");
        supervisor.Apply(new DesiredInstances { Epoch = 1, Generation = 2 });
        await AgentTestEnvironment.WaitForAsync(supervisor.Statuses, "fn-crash", s => s.State == InstanceState.Stopped, TimeSpan.FromSeconds(30));
        (await env.LeftoversAsync("fn-crash")).Should().BeEmpty();
    }

    [RootFact]
    public async Task Instance_MissingHostPath_FailsWithReasonAndCleansUp()
    {
        await using var env = new AgentTestEnvironment();
        using var host = env.BuildHost("http://127.0.0.1:1");
        var supervisor = host.Services.GetRequiredService<InstanceSupervisor>();
        supervisor.Recover();
        var assignment = AgentTestEnvironment.HttpServer("fn-fail");
        assignment.Spec.Mounts.Add(new Mount { MountPath = "/mnt/data", Host = new HostPathSource { Path = "/nonexistent/eas-test" } });

        supervisor.Apply(new DesiredInstances { Epoch = 1, Generation = 1, Instances = { assignment } });

        var failed = await AgentTestEnvironment.WaitForAsync(supervisor.Statuses, "fn-fail", s => s.State == InstanceState.Failed, TimeSpan.FromSeconds(30));
        failed.Reason.Should().Contain("/nonexistent/eas-test").And.Contain("does not exist");
        supervisor.Apply(new DesiredInstances { Epoch = 1, Generation = 2 });
        await AgentTestEnvironment.WaitForAsync(supervisor.Statuses, "fn-fail", s => s.State == InstanceState.Stopped, TimeSpan.FromSeconds(30));
        (await env.LeftoversAsync("fn-fail")).Should().BeEmpty();
    }
}
