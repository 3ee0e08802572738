using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Eas.Node.Contracts.V1;
using Eas.Node.Functional.Tests.Infrastructure;
using Grpc.Core;
using Xunit.Abstractions;

namespace Eas.Node.Functional.Tests;

/// <summary>
/// Issue 5's chaos test: a scripted workload (create, scale, modify, rolling restart, delete and re-create over
/// three services on two agents) while a driver kill -9s agents, the coordinator, conmon and instance processes at
/// random points. Afterwards every service must be at its desired replicas and version with its records intact,
/// and no node may hold an orphan container, process, cgroup, network namespace, mount, CNI allocation or instance
/// directory; after deleting everything, nothing at all. The schedule comes from a seed printed in the output
/// (EAS_CHAOS_SEED replays it; timings still vary from run to run). EAS_CHAOS_LOGS=DIR keeps the daemons' logs there.
/// </summary>
[SuppressMessage("Security", "CA5394:Do not use insecure randomness", Justification = "a seeded, replayable chaos schedule; no secret")]
public sealed class ChaosTests(ITestOutputHelper output)
{
    private const int RandomSteps = 13;
    private const string CoordinatorKey = "(coordinator)";
    private static readonly TimeSpan _callBudget = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan _converge = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan _settle = TimeSpan.FromSeconds(30);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _timelineGate = new();
    private readonly List<string> _timeline = [];
    private readonly string _prefix = $"chaos{Environment.ProcessId % 10000}_";
    private readonly Dictionary<string, DateTime> _startedAt = new(StringComparer.Ordinal);
    private int _generation;
    private int _seed;

    private enum Fault
    {
        Agent,
        Coordinator,
        Conmon,
        InstanceProcess,
    }

    [ClusterFact]
    public async Task ScriptedWorkload_UnderRandomKills_ConvergesWithNoOrphanAndNoLostRecord()
    {
        var seed = _seed = Environment.GetEnvironmentVariable("EAS_CHAOS_SEED") is { Length: > 0 } fixedSeed
            ? int.Parse(fixedSeed, CultureInfo.InvariantCulture)
            : Random.Shared.Next();
        Log($"seed {seed} (replay the schedule with EAS_CHAOS_SEED={seed})");
        var schedule = new Random(seed);
        var workloadRandom = new Random(schedule.Next());
        var faultRandom = new Random(schedule.Next());

        _startedAt[CoordinatorKey] = DateTime.UtcNow;
        await using var cluster = await MultiNodeCluster.StartAsync(nodes: 2, subnetSecondOctet: 244);
        Log($"cluster up: coordinator + {string.Join(", ", cluster.Nodes.Select(n => n.Name))}");
        List<Expected> services = [new(_prefix + "a"), new(_prefix + "b"), new(_prefix + "c")];

        try
        {
            // Phase 1: the workload and the faults run side by side; neither waits for Ready.
            using var stop = new CancellationTokenSource();
            var workload = RunGuardedAsync(() => WorkloadAsync(cluster, workloadRandom, services, stop.Token), stop);
            var faults = RunGuardedAsync(() => FaultsAsync(cluster, faultRandom, stop.Token), stop);
            await WhenBothAsync(workload, faults);
            Log("workload and faults done; every daemon runs again");

            // Phase 2: every agent connected again, converge, then check the records and every node.
            await WaitAgentsConnectedAsync(cluster);
            var converged = await ConvergeAsync(cluster, services);
            Log("converged: every service at its desired replicas and version, all Ready");
            await CheckRecordsAsync(cluster, services);
            await CheckServesAsync(cluster, services);
            await CheckHostsAsync(cluster, "after the chaos");
            var after = await InstanceIdsAsync(cluster);
            after.Should().BeEquivalentTo(converged, $"the converged state is stable: no instance is replaced, added or removed once the chaos is over (seed {_seed})");
            Log("records intact, every service answers, no orphan on any node, nothing moved meanwhile");

            // Phase 3: delete everything; nothing at all may stay behind.
            foreach (var service in services.Where(s => s.Exists))
            {
                await DeleteAsync(cluster, service);
            }

            await cluster.WaitForAsync(
                async () => (await cluster.Services.ListServicesAsync(new ListServicesRequest())).Services.Count == 0 ? "" : null,
                _converge,
                "every service to be deleted");
            await CheckHostsAsync(cluster, "after deleting every service");
            Log("all deleted: nothing left on any node");
        }
        finally
        {
            await NoteEventsAsync(cluster);
            output.WriteLine(string.Join('\n', Timeline()));
            if (Environment.GetEnvironmentVariable("EAS_CHAOS_LOGS") is { Length: > 0 } keep)
            {
                // The daemons' logs outlive the cluster's folder there, for a replay's post-mortem.
                Directory.CreateDirectory(keep);
                foreach (var log in Directory.EnumerateFiles(cluster.Dir, "*.log"))
                {
                    File.Copy(log, Path.Combine(keep, $"{seed}-{Path.GetFileName(log)}"), overwrite: true);
                }

                File.WriteAllLines(Path.Combine(keep, $"{seed}-timeline.txt"), Timeline());
            }
        }
    }

    // ---- the workload ----------------------------------------------------------------------------------------------

    private async Task WorkloadAsync(MultiNodeCluster cluster, Random random, List<Expected> services, CancellationToken ct)
    {
        foreach (var service in services)
        {
            await CreateAsync(cluster, service, random.Next(1, 3));
            await Task.Delay(random.Next(0, 2000), ct);
        }

        // One step (at a random point) deletes a service and creates it again at once; others pick at random.
        var recreateStep = random.Next(RandomSteps);
        for (var step = 0; step < RandomSteps; step++)
        {
            ct.ThrowIfCancellationRequested();
            var service = services[random.Next(services.Count)];
            if (step == recreateStep)
            {
                if (service.Exists)
                {
                    await DeleteAsync(cluster, service);
                }

                await CreateAsync(cluster, service, random.Next(1, 4));
            }
            else if (!service.Exists)
            {
                await CreateAsync(cluster, service, random.Next(0, 4));
            }
            else
            {
                var roll = random.Next(100);
                if (roll < 40)
                {
                    var to = (service.Replicas + random.Next(1, 4)) % 4;
                    await ScaleAsync(cluster, service, to);
                }
                else if (roll < 70)
                {
                    await ModifyAsync(cluster, service);
                }
                else if (roll < 85)
                {
                    await RestartAsync(cluster, service);
                }
                else
                {
                    await DeleteAsync(cluster, service);
                }
            }

            await Task.Delay(random.Next(0, 2000), ct);
        }
    }

    private async Task CreateAsync(MultiNodeCluster cluster, Expected service, int replicas)
    {
        var marker = NextMarker();
        var request = new CreateServiceRequest { SpecJson = Spec(service.Name, replicas, marker).ToJsonString() };
        Log($"create {service.Name} with {replicas} instance(s), env GEN={marker}");
        var token = await CallAsync(
            $"create {service.Name}",
            async deadline => (await cluster.Services.CreateServiceAsync(request, deadline: deadline)).Token,
            async () =>
            {
                // Answered before a coordinator kill, or the old service is still being deleted (then: wait).
                var info = await cluster.DescribeAsync(service.Name);
                return info.SpecJson.Contains(Quoted(marker), StringComparison.Ordinal) ? info.Token : null;
            },
            e => e.StatusCode == StatusCode.AlreadyExists);
        service.Exists = true;
        service.Replicas = replicas;
        service.Version = 1;
        service.Token = token;
        service.Marker = marker;
    }

    private async Task ScaleAsync(MultiNodeCluster cluster, Expected service, int replicas)
    {
        Log($"scale {service.Name} {service.Replicas} → {replicas}");
        var request = new ScaleServiceRequest { Name = service.Name, Instances = replicas };
        await CallAsync($"scale {service.Name}", async deadline => await cluster.Services.ScaleServiceAsync(request, deadline: deadline));
        service.Replicas = replicas;
    }

    private async Task ModifyAsync(MultiNodeCluster cluster, Expected service)
    {
        var marker = NextMarker();
        Log($"modify {service.Name}: env GEN={marker} → version {service.Version + 1}");
        var request = new ModifyServiceRequest { Name = service.Name, SpecJson = Spec(service.Name, service.Replicas, marker).ToJsonString(), Replace = true };
        await CallAsync(
            $"modify {service.Name}",
            async deadline => await cluster.Services.ModifyServiceAsync(request, deadline: deadline),
            async () =>
            {
                var info = await cluster.DescribeAsync(service.Name);
                return info.SpecJson.Contains(Quoted(marker), StringComparison.Ordinal) ? info : null;
            });
        service.Version++;
        service.Marker = marker;
    }

    private async Task RestartAsync(MultiNodeCluster cluster, Expected service)
    {
        var version = service.Version + 1;
        Log($"rolling restart {service.Name} → version {version}");
        await CallAsync(
            $"restart {service.Name}",
            async deadline => await cluster.Services.RestartServiceAsync(new ServiceRef { Name = service.Name }, deadline: deadline),
            async () =>
            {
                var info = await cluster.DescribeAsync(service.Name);
                return info.Version >= version ? info : null;
            });
        service.Version = version;
    }

    private async Task DeleteAsync(MultiNodeCluster cluster, Expected service)
    {
        Log($"delete {service.Name}");
        await CallAsync(
            $"delete {service.Name}",
            async deadline => await cluster.Services.DeleteServiceAsync(new ServiceRef { Name = service.Name }, deadline: deadline),
            async () =>
            {
                try
                {
                    var info = await cluster.DescribeAsync(service.Name);
                    return info.Status == "Deleting" ? new DeleteServiceResponse { Name = service.Name } : null;
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
                {
                    return new DeleteServiceResponse { Name = service.Name };
                }
            });
        service.Exists = false;
    }

    /// <summary>
    /// One admin call, retried with backoff while the coordinator is down (or answers <paramref name="retryAlso"/>);
    /// before each retry <paramref name="done"/> asks whether an earlier attempt took effect although its answer was lost.
    /// </summary>
    private async Task<T> CallAsync<T>(string what, Func<DateTime, Task<T>> call, Func<Task<T?>>? done = null, Func<RpcException, bool>? retryAlso = null)
        where T : class
    {
        var giveUp = DateTime.UtcNow + _callBudget;
        var delay = TimeSpan.FromMilliseconds(200);
        for (var attempt = 1; ; attempt++)
        {
            if (attempt > 1 && done is not null)
            {
                try
                {
                    if (await done() is { } earlier)
                    {
                        Log($"  {what}: took effect on an earlier attempt");
                        return earlier;
                    }
                }
                catch (RpcException e) when (Transient(e) || e.StatusCode == StatusCode.NotFound)
                {
                    // Still down (the call below says so too), or not there yet: not done.
                }
            }

            try
            {
                var result = await call(DateTime.UtcNow.AddSeconds(10));
                if (attempt > 1)
                {
                    Log($"  {what}: answered on attempt {attempt}");
                }

                return result;
            }
            catch (RpcException e) when ((Transient(e) || retryAlso?.Invoke(e) == true) && DateTime.UtcNow < giveUp)
            {
                Log($"  {what}: {e.StatusCode} ({Short(e.Status.Detail)}); retrying");
                await Task.Delay(delay);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
            }
        }
    }

    private static bool Transient(RpcException e) =>
        e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal or StatusCode.Unknown or StatusCode.Cancelled;

    private string NextMarker() => "gen" + Interlocked.Increment(ref _generation).ToString(CultureInfo.InvariantCulture);

    private static string Quoted(string text) => $"\"{text}\"";

    private static JsonObject Spec(string name, int instances, string marker) => new()
    {
        ["metadata"] = new JsonObject
        {
            ["name"] = name,
            ["instance"] = instances,
            ["cpu"] = 0.1,
            ["memory"] = 128,
            ["rpc"] = new JsonObject { ["enable_sigterm"] = true },
            ["eas"] = new JsonObject { ["termination_grace_period"] = 2 },
        },
        ["containers"] = new JsonArray(new JsonObject
        {
            ["image"] = "host",
            ["script"] = "exec python3 -m http.server 8000 --bind 0.0.0.0 --directory /tmp",
            ["port"] = 8000,
            ["env"] = new JsonArray(new JsonObject { ["name"] = "GEN", ["value"] = marker }),
        }),
    };

    // ---- the faults ------------------------------------------------------------------------------------------------

    private async Task FaultsAsync(MultiNodeCluster cluster, Random random, CancellationToken ct)
    {
        // Every kind at least once, then more at random, in a random order. EAS_CHAOS_FAULTS (e.g. "Agent,Coordinator")
        // narrows the kinds, to tell the effects of one kind apart when replaying.
        var allowed = Environment.GetEnvironmentVariable("EAS_CHAOS_FAULTS") is { Length: > 0 } only
            ? only.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(Enum.Parse<Fault>).ToList()
            : [Fault.Agent, Fault.Coordinator, Fault.Conmon, Fault.InstanceProcess];
        var count = random.Next(6, 11);
        var kinds = new List<Fault>(allowed);
        while (kinds.Count < count)
        {
            kinds.Add(allowed[random.Next(allowed.Count)]);
        }

        var order = kinds.ToArray();
        random.Shuffle(order);
        Log($"faults planned: {string.Join(", ", order)}");
        foreach (var kind in order)
        {
            await Task.Delay(random.Next(1000, 6000), ct);
            switch (kind)
            {
                case Fault.Agent:
                    {
                        var node = cluster.Nodes[random.Next(cluster.Nodes.Count)];
                        var down = random.Next(0, 5000);
                        Log($"FAULT kill -9 agent {node.Name} (pid {node.AgentPid}); back in {down} ms");
                        node.KillAgent();
                        await Task.Delay(down, ct);
                        _startedAt[node.Name] = DateTime.UtcNow;
                        await node.StartAsync();
                        Log($"  agent {node.Name} registered again");
                        break;
                    }

                case Fault.Coordinator:
                    {
                        var down = random.Next(0, 5000);
                        Log($"FAULT kill -9 coordinator; back in {down} ms");
                        cluster.KillCoordinator();
                        await Task.Delay(down, ct);
                        _startedAt[CoordinatorKey] = DateTime.UtcNow;
                        cluster.StartCoordinator();
                        Log("  coordinator started again");
                        break;
                    }

                case Fault.Conmon:
                case Fault.InstanceProcess:
                    {
                        var file = kind == Fault.Conmon ? "conmon.pid" : "container.pid";
                        var targets = cluster.Nodes
                            .SelectMany(n => InstanceDirs(n).Select(id => (Node: n, Id: id, Pid: ReadPid(Path.Combine(n.StateDir, "instances", id, file)))))
                            .Where(t => t.Pid > 0 && IsProcessOf(t.Pid, t.Id, kind))
                            .OrderBy(t => t.Id, StringComparer.Ordinal)
                            .ToList();
                        if (targets.Count == 0)
                        {
                            Log($"FAULT kill -9 {kind}: no live target at this moment, skipped");
                            break;
                        }

                        var target = targets[random.Next(targets.Count)];
                        Log($"FAULT kill -9 {(kind == Fault.Conmon ? "conmon" : "main process")} of {target.Id} on {target.Node.Name} (pid {target.Pid})");
                        _ = Native.Kill(target.Pid, Native.SigKill);
                        break;
                    }
            }
        }
    }

    /// <summary>Runs one side of the chaos; when it fails, the other side stops too.</summary>
    private static async Task RunGuardedAsync(Func<Task> body, CancellationTokenSource stop)
    {
        try
        {
            await body();
        }
        catch
        {
            await stop.CancelAsync();
            throw;
        }
    }

    /// <summary>Waits for both sides; a failure wins over the cancellation it caused on the other side.</summary>
    private static async Task WhenBothAsync(Task first, Task second)
    {
        try
        {
            await Task.WhenAll(first, second);
        }
        catch
        {
            var cause = new[] { first, second }
                .Where(t => t.IsFaulted)
                .SelectMany(t => t.Exception!.InnerExceptions)
                .FirstOrDefault(e => e is not OperationCanceledException);
            if (cause is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(cause);
            }

            throw;
        }
    }

    private static bool IsProcessOf(int pid, string instanceId, Fault kind)
    {
        try
        {
            if (kind == Fault.Conmon)
            {
                var cmdline = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
                return cmdline[0].EndsWith("conmon", StringComparison.Ordinal) && cmdline.Contains(Container(instanceId), StringComparer.Ordinal);
            }

            return File.ReadAllText($"/proc/{pid}/environ").Split('\0').Contains($"EAS_INSTANCE_ID={instanceId}", StringComparer.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static int ReadPid(string path)
    {
        try
        {
            return int.TryParse(File.ReadAllText(path).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    // ---- the checks ------------------------------------------------------------------------------------------------

    /// <summary>
    /// Waits until every agent's current process (and the current coordinator) has been heard from: a heartbeat
    /// recorded after the last start of both. Before that, a node's Ready status may be the one its killed agent left.
    /// </summary>
    private async Task WaitAgentsConnectedAsync(MultiNodeCluster cluster)
    {
        string state = "";
        await cluster.WaitForAsync(
            async () =>
            {
                var nodes = (await cluster.Services.ListNodesAsync(new ListNodesRequest())).Nodes;
                state = string.Join("; ", nodes.Select(n => $"{n.Name} {n.Status}, heard {n.LastHeartbeat?.ToDateTime():HH:mm:ss.f}"));
                return cluster.Nodes.All(node => nodes.Any(n =>
                    n.Name == node.Name
                    && n.Status == "Ready"
                    && n.LastHeartbeat is { } heard
                    && heard.ToDateTime() > (_startedAt.TryGetValue(node.Name, out var agent) && agent > _startedAt[CoordinatorKey] ? agent : _startedAt[CoordinatorKey])))
                    ? "" : null;
            },
            _converge,
            $"every agent to be connected with a fresh heartbeat (seed {_seed})",
            () => state);
        Log($"every agent connected: {state}");
    }

    /// <summary>
    /// Adds the coordinator's events that explain a slow or failed convergence to the timeline: nodes marked Down
    /// (no agent here is away past the 10 s grace) and back, rollouts paused.
    /// </summary>
    private async Task NoteEventsAsync(MultiNodeCluster cluster)
    {
        try
        {
            var events = await cluster.Services.ListEventsAsync(new ListEventsRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
            foreach (var e in events.Events.Where(e => e.Type is "NodeDown" or "NodeBack" or "RolloutPaused"))
            {
                Log($"note: event {e.Time.ToDateTime():HH:mm:ss.f} {e.Type} {e.Service}: {e.Message}");
            }
        }
        catch (RpcException e)
        {
            Log($"note: the events could not be read: {e.Status.Detail}");
        }
    }

    private static async Task<List<string>> InstanceIdsAsync(MultiNodeCluster cluster) =>
        [.. (await cluster.Services.ListServicesAsync(new ListServicesRequest())).Services.SelectMany(s => s.Instances).Select(i => $"{i.Id} on {i.Node}")];

    /// <summary>
    /// Waits until all services at once are where the workload left them: the deleted ones gone, the others at their
    /// desired replicas and version with every instance Ready. Returns the instances then.
    /// </summary>
    private async Task<List<string>> ConvergeAsync(MultiNodeCluster cluster, List<Expected> services)
    {
        var state = "";
        await cluster.WaitForAsync(
            async () =>
            {
                var listed = (await cluster.Services.ListServicesAsync(new ListServicesRequest())).Services.ToDictionary(s => s.Name, StringComparer.Ordinal);
                var waiting = new List<string>();
                foreach (var service in services)
                {
                    if (!listed.TryGetValue(service.Name, out var s))
                    {
                        if (service.Exists)
                        {
                            waiting.Add($"{service.Name}: missing");
                        }

                        continue;
                    }

                    var done = service.Exists
                        && s.Version == service.Version
                        && s.Replicas.Desired == service.Replicas
                        && s.Status == (service.Replicas == 0 ? "Stopped" : "Running")
                        && !s.Rollout.Active
                        && s.Instances.Count == service.Replicas
                        && s.Instances.All(i => i.ServiceVersion == service.Version && i.State == InstanceState.Ready);
                    if (!done)
                    {
                        var want = service.Exists ? $"want v{service.Version} ×{service.Replicas}" : "want it gone";
                        waiting.Add($"{service.Name}: {s.Status} v{s.Version} ×{s.Replicas.Desired} [{string.Join(", ", s.Instances.Select(i => $"{i.Id} v{i.ServiceVersion} {i.State} on {i.Node}"))}] ({want})");
                    }
                }

                state = string.Join("; ", waiting);
                return waiting.Count == 0 ? "" : null;
            },
            _converge,
            $"every service to be at its desired replicas and version, all Ready, deleted ones gone (seed {_seed})",
            () => state);
        return await InstanceIdsAsync(cluster);
    }

    private async Task CheckRecordsAsync(MultiNodeCluster cluster, List<Expected> services)
    {
        var listed = (await cluster.Services.ListServicesAsync(new ListServicesRequest())).Services.ToDictionary(s => s.Name, StringComparer.Ordinal);
        listed.Keys.Should().BeEquivalentTo(services.Where(s => s.Exists).Select(s => s.Name), $"(seed {_seed}) every service created and not deleted is kept, and no deleted one comes back");
        foreach (var service in services.Where(s => s.Exists))
        {
            var info = listed[service.Name];
            info.Version.Should().Be(service.Version, $"{service.Name} went through exactly the acknowledged modifies and restarts");
            info.Replicas.Desired.Should().Be(service.Replicas, $"{service.Name} keeps the last acknowledged scale");
            info.Token.Should().Be(service.Token, $"{service.Name} keeps the token it was created with");
            info.SpecJson.Should().Contain(Quoted(service.Marker), $"{service.Name} runs the spec of its last acknowledged modify");
            info.Instances.Select(i => i.Id).Should().OnlyHaveUniqueItems();
        }

        var events = (await cluster.Services.ListEventsAsync(new ListEventsRequest())).Events;
        events.Should().Contain(e => e.Type == "Created", "the event log survived the coordinator kills");
    }

    /// <summary>
    /// Every service with instances answers through the gateway: a run of requests (two per instance; the gateway starts
    /// each pick at the next instance) must all be 200 within the settle time, so a Ready instance that cannot answer shows.
    /// </summary>
    private async Task CheckServesAsync(MultiNodeCluster cluster, List<Expected> services)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        foreach (var service in services.Where(s => s.Exists && s.Replicas > 0))
        {
            // A run of requests must come back all 200 within the settle time. A Ready instance that cannot answer
            // fails it for good; one whose conmon was killed at the very end answers again once its agent noticed
            // (within 2 s) and restarted it in place.
            var answers = new List<string>();
            await cluster.WaitForAsync(
                async () =>
                {
                    answers.Clear();
                    for (var i = 0; i < 2 * service.Replicas; i++)
                    {
                        answers.Add(Short(await CallGatewayAsync(http, cluster, service)));
                    }

                    return answers.All(a => a.StartsWith("200", StringComparison.Ordinal)) ? "" : null;
                },
                _settle,
                $"every Ready instance of {service.Name} to answer 200 through the gateway (seed {_seed})",
                () => $"last answers: {string.Join(" | ", answers)}");
        }
    }

    private static async Task<string> CallGatewayAsync(HttpClient http, MultiNodeCluster cluster, Expected service)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{cluster.GatewayUrl}/api/predict/{service.Name}/");
        request.Headers.TryAddWithoutValidation("Authorization", service.Token);
        try
        {
            using var response = await http.SendAsync(request);
            return $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// Compares each node with what the coordinator places there, until they agree or <see cref="_settle"/> passes
    /// (an instance the coordinator has just forgotten may still be in its last cleanup step).
    /// </summary>
    private async Task CheckHostsAsync(MultiNodeCluster cluster, string when)
    {
        var deadline = DateTime.UtcNow + _settle;
        List<string> problems;
        while (true)
        {
            var instances = (await cluster.Services.ListServicesAsync(new ListServicesRequest())).Services.SelectMany(s => s.Instances).ToList();
            problems = await HostProblemsAsync(cluster, instances);
            if (problems.Count == 0 || DateTime.UtcNow > deadline)
            {
                break;
            }

            Log($"settling ({when}): {string.Join("; ", problems)}");
            await Task.Delay(1000);
        }

        foreach (var problem in problems)
        {
            Log($"ORPHAN {when}: {problem}");
        }

        problems.Should().BeEmpty($"no node keeps anything of an instance the coordinator does not place on it ({when}; {_settle.TotalSeconds:0} s to settle); seed {_seed}, timeline in the output");
    }

    private async Task<List<string>> HostProblemsAsync(MultiNodeCluster cluster, List<InstanceInfo> instances)
    {
        var problems = new List<string>();
        var live = instances.Select(i => Container(i.Id)).ToHashSet(StringComparer.Ordinal);
        var mine = "eas-" + _prefix;

        foreach (var node in cluster.Nodes)
        {
            var here = instances.Where(i => i.Node == node.Name).ToList();
            var expected = here.Select(i => Container(i.Id)).ToHashSet(StringComparer.Ordinal);

            var containers = await ContainersAsync(node);
            Compare(problems, $"{node.Name}: runc container", containers.Keys, expected);
            problems.AddRange(containers.Where(c => expected.Contains(c.Key) && c.Value != "running").Select(c => $"{node.Name}: container {c.Key} is {c.Value}, not running"));

            Compare(problems, $"{node.Name}: instance directory", InstanceDirs(node).Select(Container), expected);

            var allocations = CniAllocations(node);
            Compare(problems, $"{node.Name}: CNI host-local allocation", allocations.Select(a => $"{a.Key} → {a.Value}"), here.Select(i => $"{i.Ip} → {Container(i.Id)}"));

            problems.AddRange(HostInspector.MountsUnder(node.StateDir).Select(m => $"{node.Name}: mount left under the state directory: {m}"));

            var conmons = ConmonContainers(node);
            Compare(problems, $"{node.Name}: conmon", conmons.Where(c => !expected.Contains(c)), []);
            var withoutConmon = expected.Where(c => !conmons.Contains(c)).ToList();
            if (withoutConmon.Count > 0)
            {
                // Not an orphan: the instance serves, only its supervisor (output log, exit code) is gone. Noted, not failed.
                Log($"note: {node.Name}: instance(s) running without conmon (killed by the chaos): {string.Join(", ", withoutConmon)}");
            }
        }

        var summary = cluster.Nodes.Select(n => $"{n.Name}: {instances.Count(i => i.Node == n.Name)} instance(s), {CniAllocations(n).Count} CNI allocation(s), {ConmonContainers(n).Count} conmon");
        Log($"host check: {string.Join("; ", summary)}; {HostInspector.NetworkNamespaces().Count(n => n.StartsWith(mine, StringComparison.Ordinal))} netns, " +
            $"{Cgroups(mine).Count()} cgroup dir(s) of this test's instances");
        Compare(problems, "network namespace", HostInspector.NetworkNamespaces().Where(n => n.StartsWith(mine, StringComparison.Ordinal)), live);
        Compare(problems, "netns mount", File.ReadAllLines("/proc/self/mounts").Select(l => l.Split(' ')[1])
            .Where(m => m.StartsWith("/run/netns/" + mine, StringComparison.Ordinal) || m.StartsWith("/var/run/netns/" + mine, StringComparison.Ordinal))
            .Select(Path.GetFileName).OfType<string>().Distinct(StringComparer.Ordinal), live);
        foreach (var (path, container) in Cgroups(mine))
        {
            if (!live.Contains(container))
            {
                problems.Add($"orphan cgroup {path}");
            }
        }

        var processes = InstanceProcesses();
        foreach (var (id, pids) in processes)
        {
            if (!live.Contains(Container(id)))
            {
                problems.Add($"orphan process(es) of instance {id}: pid {string.Join(", ", pids)}");
            }
            else if (pids.Count > 1)
            {
                problems.Add($"instance {id} runs {pids.Count} processes (pid {string.Join(", ", pids)}); one copy expected");
            }
        }

        foreach (var container in live.Where(c => !processes.ContainsKey(c["eas-".Length..])))
        {
            problems.Add($"instance {container} is placed but has no process");
        }

        return problems;
    }

    private static void Compare(List<string> problems, string what, IEnumerable<string> actual, IEnumerable<string> expected)
    {
        var have = actual.ToHashSet(StringComparer.Ordinal);
        var want = expected.ToHashSet(StringComparer.Ordinal);
        problems.AddRange(have.Except(want).Order(StringComparer.Ordinal).Select(x => $"orphan {what}: {x}"));
        problems.AddRange(want.Except(have).Order(StringComparer.Ordinal).Select(x => $"missing {what}: {x}"));
    }

    private static string Container(string instanceId) => "eas-" + instanceId;

    /// <summary>Container id → runc status, from the node's private runc root.</summary>
    private static async Task<Dictionary<string, string>> ContainersAsync(MultiNodeCluster.Node node)
    {
        var json = string.Join('\n', await node.RuncAsync("list", "--format", "json"));
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (json.Trim() is "" or "null")
        {
            return result;
        }

        using var document = JsonDocument.Parse(json);
        foreach (var container in document.RootElement.EnumerateArray())
        {
            result[container.GetProperty("id").GetString() ?? ""] = container.GetProperty("status").GetString() ?? "";
        }

        return result;
    }

    private static IReadOnlyList<string> InstanceDirs(MultiNodeCluster.Node node)
    {
        var dir = Path.Combine(node.StateDir, "instances");
        return Directory.Exists(dir) ? [.. Directory.EnumerateDirectories(dir).Select(Path.GetFileName).OfType<string>()] : [];
    }

    /// <summary>host-local's allocations (one file per address, holding the container id) under the node's state directory.</summary>
    private static Dictionary<string, string> CniAllocations(MultiNodeCluster.Node node)
    {
        var cni = Path.Combine(node.StateDir, "cni");
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!Directory.Exists(cni))
        {
            return result;
        }

        foreach (var file in Directory.EnumerateFiles(cni, "*", SearchOption.AllDirectories).Where(f => IPAddress.TryParse(Path.GetFileName(f), out _)))
        {
            result[Path.GetFileName(file)] = File.ReadAllText(file).Split('\n')[0].Trim();
        }

        return result;
    }

    /// <summary>The container ids of the conmon processes that run for this node (their command line names its state directory).</summary>
    private static HashSet<string> ConmonContainers(MultiNodeCluster.Node node)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                var args = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                if (!args[0].EndsWith("conmon", StringComparison.Ordinal) || !args.Any(a => a.StartsWith(node.StateDir + "/", StringComparison.Ordinal)))
                {
                    continue;
                }

                var cid = Array.IndexOf(args, "--cid");
                if (cid >= 0 && cid + 1 < args.Length)
                {
                    result.Add(args[cid + 1]);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended while we looked.
            }
        }

        return result;
    }

    /// <summary>Every cgroup directory of this test's instances, in every hierarchy (v1 has one per controller).</summary>
    private static IEnumerable<(string Path, string Container)> Cgroups(string containerPrefix)
    {
        var parents = Directory.EnumerateDirectories("/sys/fs/cgroup").Select(h => Path.Combine(h, "eas")).Append("/sys/fs/cgroup/eas").Where(Directory.Exists);
        foreach (var parent in parents.Distinct(StringComparer.Ordinal))
        {
            foreach (var dir in Directory.EnumerateDirectories(parent, containerPrefix + "*"))
            {
                yield return (dir, Path.GetFileName(dir));
            }
        }
    }

    /// <summary>Instance id → host pids of the processes that carry it in their environment (this test's services only).</summary>
    private Dictionary<string, List<int>> InstanceProcesses()
    {
        var marker = "EAS_INSTANCE_ID=" + _prefix;
        var result = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var entry = File.ReadAllText(Path.Combine(dir, "environ")).Split('\0').FirstOrDefault(e => e.StartsWith(marker, StringComparison.Ordinal));
                if (entry is not null && IsZombie(pid))
                {
                    // Dead, only not reaped yet by whoever inherited it; nothing of it runs.
                    Log($"note: zombie pid {pid} of {entry["EAS_INSTANCE_ID=".Length..]}");
                }
                else if (entry is not null)
                {
                    var id = entry["EAS_INSTANCE_ID=".Length..];
                    (result.TryGetValue(id, out var pids) ? pids : result[id] = []).Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended while we looked.
            }
        }

        return result;
    }

    private static bool IsZombie(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
    }

    // ---- the timeline ----------------------------------------------------------------------------------------------

    private void Log(string line)
    {
        lock (_timelineGate)
        {
            _timeline.Add($"[{_clock.Elapsed.TotalSeconds,6:0.0} s] {line}");
        }
    }

    private List<string> Timeline()
    {
        lock (_timelineGate)
        {
            return [.. _timeline];
        }
    }

    private static string Short(string text) => text.Length <= 120 ? text : text[..120] + "…";

    private sealed class Expected(string name)
    {
        public string Name { get; } = name;

        public bool Exists { get; set; }

        public int Replicas { get; set; }

        public int Version { get; set; }

        public string Token { get; set; } = "";

        public string Marker { get; set; } = "";
    }
}
