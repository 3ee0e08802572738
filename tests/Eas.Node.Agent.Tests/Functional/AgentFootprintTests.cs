using System.Diagnostics;
using System.Globalization;
using Eas.Node.Agent.Interop;
using Eas.Node.Agent.Tests.Support;
using Eas.Node.Contracts.V1;
using Xunit.Abstractions;

namespace Eas.Node.Agent.Tests.Functional;

/// <summary>The real eas-agent process: its resident memory while two instances idle.</summary>
[Collection(AgentFunctionalCollection.Name)]
public sealed class AgentFootprintTests(ITestOutputHelper output)
{
    private const long BudgetKib = 80 * 1024;

    [RootFact]
    public async Task Agent_TwoIdleInstances_StaysUnderEightyMegabytes()
    {
        await using var coordinator = await FakeCoordinator.StartAsync();
        await using var env = new AgentTestEnvironment();
        env.BuildHost(coordinator.Address).Dispose();  // writes the config file
        var agentDll = Path.Combine(AppContext.BaseDirectory, "eas-agent.dll");
        using var agent = Process.Start(new ProcessStartInfo("dotnet", ["exec", agentDll, "--config", env.ConfigPath])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        agent.OutputDataReceived += (_, _) => { };
        agent.ErrorDataReceived += (_, _) => { };
        agent.BeginOutputReadLine();
        agent.BeginErrorReadLine();
        try
        {
            await coordinator.NextAsync(m => m.Register is not null, TimeSpan.FromSeconds(30));
            var desired = new DesiredInstances { Epoch = 1, Generation = 1 };
            desired.Instances.Add([AgentTestEnvironment.HttpServer("fp-a"), AgentTestEnvironment.HttpServer("fp-b")]);
            coordinator.Send(new CoordinatorMessage { Desired = desired });
            var ready = new HashSet<string>();
            while (ready.Count < 2)
            {
                var report = (await coordinator.NextAsync(m => m.Status is not null, TimeSpan.FromSeconds(30))).Status;
                ready.UnionWith(report.Instances.Where(s => s.State == InstanceState.Ready).Select(s => s.InstanceId));
            }

            // Idle: heartbeats and readiness re-checks only.
            await Task.Delay(TimeSpan.FromSeconds(15));
            var rssKib = ReadRssKib(agent.Id);
            output.WriteLine($"eas-agent VmRSS with 2 idle instances: {rssKib / 1024.0:0.0} MiB");
            rssKib.Should().BeLessThanOrEqualTo(BudgetKib);
        }
        finally
        {
            // SIGTERM: the agent detaches and exits; the environment's cleanup removes the instances.
            Signals.Send(agent.Id, Signals.Term);
            if (!agent.WaitForExit(TimeSpan.FromSeconds(20)))
            {
                agent.Kill();
            }
        }
    }

    private static long ReadRssKib(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }
}
