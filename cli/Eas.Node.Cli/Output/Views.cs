using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Eas.Node.Contracts.V1;
using Google.Protobuf.WellKnownTypes;
using Spectre.Console;

namespace Eas.Node.Cli.Output;

/// <summary>How easctl shows services, instances, nodes and events: tables for people, JSON (<c>-o json</c>) for scripts.</summary>
internal static class Views
{
    private static readonly JsonSerializerOptions _indented = new() { WriteIndented = true };

    public static string StateName(InstanceState state) => state switch
    {
        InstanceState.Pending => "Pending",
        InstanceState.Preparing => "Preparing",
        InstanceState.Starting => "Starting",
        InstanceState.Running => "Running",
        InstanceState.Ready => "Ready",
        InstanceState.Terminating => "Terminating",
        InstanceState.Stopped => "Stopped",
        InstanceState.Failed => "Failed",
        _ => "Unknown",
    };

    public static void WriteJson(JsonNode node) => Console.Out.WriteLine(node.ToJsonString(_indented));

    public static JsonObject ServiceJson(ServiceInfo s) => new()
    {
        ["name"] = s.Name,
        ["status"] = s.Status,
        ["message"] = s.Message,
        ["endpoint"] = s.Endpoint,
        ["token"] = s.Token,
        ["version"] = s.Version,
        ["replicas"] = new JsonObject
        {
            ["desired"] = s.Replicas?.Desired ?? 0,
            ["ready"] = s.Replicas?.Ready ?? 0,
            ["total"] = s.Replicas?.Total ?? 0,
        },
        ["instances"] = new JsonArray([.. s.Instances.Select(InstanceJson)]),
        ["warnings"] = new JsonArray([.. s.Warnings.Select(w => (JsonNode?)JsonValue.Create(w))]),
        ["created_at"] = Time(s.CreatedAt),
        ["updated_at"] = Time(s.UpdatedAt),
        ["spec"] = string.IsNullOrEmpty(s.SpecJson) ? null : JsonNode.Parse(s.SpecJson),
        ["rollout"] = s.Rollout is { } r ? RolloutJson(r) : null,
        ["type"] = s.Type,
        ["group"] = s.Group.Length > 0 ? s.Group : null,
        ["weight"] = s.Group.Length > 0 ? s.Weight : null,
        ["traffic_state"] = s.Group.Length > 0 ? s.TrafficState : null,
    };

    public static JsonObject GroupJson(GroupInfo g) => new()
    {
        ["name"] = g.Name,
        ["traffic_mode"] = g.TrafficMode,
        ["routing"] = g.Routing,
        ["endpoint"] = g.Endpoint,
        ["created_at"] = Time(g.CreatedAt),
        ["updated_at"] = Time(g.UpdatedAt),
        ["members"] = new JsonArray([.. g.Members.Select(m => (JsonNode?)new JsonObject
        {
            ["service"] = m.Service,
            ["type"] = m.Type,
            ["status"] = m.Status,
            ["traffic_state"] = m.TrafficState,
            ["weight"] = m.Weight,
            ["ready"] = m.Ready,
            ["desired"] = m.Desired,
            ["share_percent"] = m.SharePercent,
            ["endpoint"] = m.Endpoint,
        })]),
    };

    public static void WriteGroups(IEnumerable<GroupInfo> groups)
    {
        var table = new Table().Border(TableBorder.Simple).AddColumns("GROUP", "TRAFFIC", "ROUTING", "MEMBERS", "ENDPOINT");
        foreach (var g in groups)
        {
            table.AddRow(
                Markup.Escape(g.Name),
                Markup.Escape(g.TrafficMode),
                Markup.Escape(g.Routing),
                Markup.Escape(string.Join(", ", g.Members.Select(m => m.Service))),
                Markup.Escape(g.Endpoint));
        }

        AnsiConsole.Write(table);
    }

    public static void WriteGroup(GroupInfo g)
    {
        var grid = new Grid().AddColumn().AddColumn();
        grid.AddRow("[bold]Group[/]", Markup.Escape(g.Name));
        grid.AddRow("[bold]Traffic[/]", Markup.Escape(g.TrafficMode == "customized" ? "customized (by weight)" : "auto (by Ready instances)"));
        grid.AddRow("[bold]Routing[/]", Markup.Escape(g.Routing));
        grid.AddRow("[bold]Endpoint[/]", Markup.Escape(g.Endpoint));
        AnsiConsole.Write(grid);
        var table = new Table().Border(TableBorder.Simple).AddColumns("SERVICE", "TYPE", "STATUS", "STATE", "WEIGHT", "READY", "SHARE", "ENDPOINT");
        foreach (var m in g.Members)
        {
            table.AddRow(
                Markup.Escape(m.Service),
                Markup.Escape(m.Type),
                Colored(m.Status),
                Markup.Escape(m.TrafficState),
                m.Weight.ToString(CultureInfo.InvariantCulture),
                $"{m.Ready}/{m.Desired}",
                m.SharePercent.ToString("0.##", CultureInfo.InvariantCulture) + "%",
                Markup.Escape(m.Endpoint));
        }

        AnsiConsole.Write(table);
    }

    /// <summary>One row per call record; a line that is not a JSON object is shown as it is.</summary>
    public static void WriteRecords(IEnumerable<string> records)
    {
        var table = new Table().Border(TableBorder.Simple).AddColumns("TIME", "STATUS", "METHOD", "PATH", "LATENCY MS", "INSTANCE", "CLIENT");
        foreach (var line in records)
        {
            JsonObject? record;
            try
            {
                record = JsonNode.Parse(line) as JsonObject;
            }
            catch (JsonException)
            {
                record = null;
            }

            if (record is null)
            {
                table.AddRow(Markup.Escape(line), "", "", "", "", "", "");
                continue;
            }

            var path = Text(record["path"]);
            var query = Text(record["query"]);
            table.AddRow(
                Markup.Escape(Text(record["time"])),
                Colored(Text(record["status"])),
                Markup.Escape(Text(record["method"])),
                Markup.Escape(query.Length > 0 ? $"{path}{(query.StartsWith('?') ? "" : "?")}{query}" : path),
                Markup.Escape(Text(record["latency_ms"])),
                Markup.Escape(Text(record["instance"])),
                Markup.Escape(Text(record["client"])));
        }

        AnsiConsole.Write(table);
    }

    private static string Text(JsonNode? node) => node switch
    {
        null => "",
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        _ => node.ToJsonString(),
    };

    public static JsonObject RolloutJson(Rollout r) => new()
    {
        ["active"] = r.Active,
        ["version"] = r.Version,
        ["updated"] = r.Updated,
        ["updated_ready"] = r.UpdatedReady,
        ["outgoing"] = r.Outgoing,
        ["outgoing_versions"] = new JsonObject([.. r.OutgoingVersions.OrderBy(v => v.Key).Select(v => KeyValuePair.Create(v.Key.ToString(CultureInfo.InvariantCulture), (JsonNode?)JsonValue.Create(v.Value)))]),
        ["desired"] = r.Desired,
        ["paused"] = r.Paused.Length > 0 ? r.Paused : null,
        ["previous_version"] = r.PreviousVersion,
    };

    /// <summary>"rollout to version 3: 2/4 updated, 1 ready, 2 outgoing (version 2: 2)", with why it is paused.</summary>
    public static string RolloutLine(Rollout r)
    {
        var outgoing = r.OutgoingVersions.Count == 0
            ? ""
            : $" ({string.Join(", ", r.OutgoingVersions.OrderBy(v => v.Key).Select(v => $"version {v.Key}: {v.Value}"))})";
        var state = r.Paused.Length > 0 ? $"paused: {r.Paused}" : r.Active ? "in progress" : "done";
        return $"rollout to version {r.Version} {state}: {r.Updated}/{r.Desired} updated, {r.UpdatedReady} ready, {r.Outgoing} outgoing{outgoing}";
    }

    public static JsonObject InstanceJson(InstanceInfo i) => new()
    {
        ["id"] = i.Id,
        ["node"] = i.Node,
        ["state"] = StateName(i.State),
        ["reason"] = i.Reason,
        ["ip"] = i.Ip,
        ["port"] = i.Port,
        ["restarts"] = i.Restarts,
        ["version"] = i.ServiceVersion,
        ["created_at"] = Time(i.CreatedAt),
        ["changed_at"] = Time(i.ChangedAt),
        ["gpus"] = new JsonArray([.. (i.Gpu?.VisibleUuids ?? []).Select(u => (JsonNode?)JsonValue.Create(u))]),
        ["slice"] = i.Gpu is null ? null : AllocationJson(i.Gpu),
        ["gpu_usage"] = i.GpuUsage is null ? null : new JsonObject
        {
            ["memory_used_mib"] = i.GpuUsage.MemoryUsedMib,
            ["utilization_percent"] = i.GpuUsage.UtilizationPercent,
        },
    };

    public static JsonObject AllocationJson(GpuAllocation a) => new()
    {
        ["kind"] = a.Kind,
        ["gpu_uuids"] = new JsonArray([.. a.GpuUuids.Select(u => (JsonNode?)JsonValue.Create(u))]),
        ["mig_uuid"] = a.MigUuid.Length > 0 ? a.MigUuid : null,
        ["memory_mib"] = a.MemoryMib,
        ["core_percentage"] = a.CorePercentage,
    };

    public static JsonObject GpuJson(NodeGpu g) => new()
    {
        ["index"] = g.Gpu.Index,
        ["uuid"] = g.Gpu.Uuid,
        ["model"] = g.Gpu.Model,
        ["memory_mib"] = g.Gpu.MemoryMib,
        ["compute_capability"] = g.Gpu.ComputeCapability,
        ["healthy"] = g.Gpu.Healthy,
        ["health_reason"] = g.Gpu.HealthReason,
        ["mig_enabled"] = g.Gpu.MigEnabled,
        ["mig_devices"] = new JsonArray([.. g.Gpu.MigDevices.Select(m => (JsonNode?)new JsonObject
        {
            ["uuid"] = m.Uuid,
            ["profile"] = m.Profile,
            ["memory_mib"] = m.MemoryMib,
            ["slice_count"] = m.SliceCount,
        })]),
        ["usage"] = new JsonObject
        {
            ["utilization_percent"] = g.Gpu.Usage?.UtilizationPercent ?? 0,
            ["memory_used_mib"] = g.Gpu.Usage?.MemoryUsedMib ?? 0,
            ["temperature_celsius"] = g.Gpu.Usage?.TemperatureCelsius ?? 0,
            ["power_milliwatts"] = g.Gpu.Usage?.PowerMilliwatts ?? 0,
        },
        ["allocated_memory_mib"] = g.Allocations.Sum(a => a.Allocation.MemoryMib),
        ["allocated_core_percentage"] = g.Allocations.Sum(a => a.Allocation.CorePercentage),
        ["instances"] = new JsonArray([.. g.Allocations.Select(a => (JsonNode?)new JsonObject
        {
            ["id"] = a.InstanceId,
            ["service"] = a.Service,
            ["kind"] = a.Allocation.Kind,
            ["mig_uuid"] = a.Allocation.MigUuid.Length > 0 ? a.Allocation.MigUuid : null,
            ["memory_mib"] = a.Allocation.MemoryMib,
            ["core_percentage"] = a.Allocation.CorePercentage,
        })]),
    };

    public static JsonObject NodeJson(NodeInfo n) => new()
    {
        ["name"] = n.Name,
        ["address"] = n.Address,
        ["status"] = n.Status,
        ["cordoned"] = n.Cordoned,
        ["draining"] = n.Draining,
        ["cpu_millis"] = n.CpuMillis,
        ["memory_mib"] = n.MemoryMib,
        ["allocated_cpu_millis"] = n.AllocatedCpuMillis,
        ["allocated_memory_mib"] = n.AllocatedMemoryMib,
        ["instances"] = n.InstanceCount,
        ["labels"] = new JsonObject([.. n.Labels.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)JsonValue.Create(l.Value)))]),
        ["last_heartbeat"] = Time(n.LastHeartbeat),
        ["agent_version"] = n.AgentVersion,
        ["gpu_driver_version"] = n.GpuDriverVersion,
        ["cuda_version"] = n.CudaVersion,
        ["gpu_unavailable_reason"] = n.GpuUnavailableReason.Length > 0 ? n.GpuUnavailableReason : null,
        ["gpus"] = new JsonArray([.. n.Gpus.Select(g => (JsonNode?)GpuJson(g))]),
    };

    public static void WriteService(ServiceInfo s)
    {
        var grid = new Grid().AddColumn().AddColumn();
        grid.AddRow("[bold]Name[/]", Markup.Escape(s.Name));
        grid.AddRow("[bold]Status[/]", Colored(s.Status));
        if (!string.IsNullOrEmpty(s.Message))
        {
            grid.AddRow("[bold]Message[/]", Markup.Escape(s.Message));
        }

        grid.AddRow("[bold]Endpoint[/]", Markup.Escape(s.Endpoint));
        grid.AddRow("[bold]Token[/]", Markup.Escape(s.Token));
        grid.AddRow("[bold]Version[/]", s.Version.ToString(CultureInfo.InvariantCulture));
        grid.AddRow("[bold]Replicas[/]", $"{s.Replicas?.Ready ?? 0}/{s.Replicas?.Desired ?? 0} ready");
        if (s.Type.Length > 0 && s.Type != "Standard")
        {
            grid.AddRow("[bold]Type[/]", Markup.Escape(s.Type));
        }

        if (s.Group.Length > 0)
        {
            grid.AddRow("[bold]Group[/]", Markup.Escape(s.Group));
            grid.AddRow("[bold]Weight[/]", s.Weight.ToString(CultureInfo.InvariantCulture));
            grid.AddRow("[bold]Traffic state[/]", Markup.Escape(s.TrafficState));
        }
        if (s.Rollout is { } rollout && (rollout.Active || rollout.PreviousVersion > 0))
        {
            grid.AddRow("[bold]Rollout[/]", Markup.Escape(RolloutLine(rollout)));
        }

        AnsiConsole.Write(grid);
        foreach (var warning in s.Warnings)
        {
            AnsiConsole.MarkupLine($"[yellow]warning:[/] {Markup.Escape(warning)}");
        }

        if (s.Instances.Count > 0)
        {
            AnsiConsole.Write(InstanceTable(s.Instances));
        }
    }

    public static Table InstanceTable(IEnumerable<InstanceInfo> instances)
    {
        var table = new Table().Border(TableBorder.Simple)
            .AddColumns("INSTANCE", "NODE", "STATE", "IP", "GPU", "RESTARTS", "VERSION", "REASON");
        foreach (var i in instances)
        {
            table.AddRow(
                Markup.Escape(i.Id),
                Markup.Escape(i.Node),
                Colored(StateName(i.State)),
                Markup.Escape(i.Ip.Length > 0 ? $"{i.Ip}:{i.Port}" : "-"),
                Markup.Escape(GpuCell(i)),
                i.Restarts.ToString(CultureInfo.InvariantCulture),
                i.ServiceVersion.ToString(CultureInfo.InvariantCulture),
                Markup.Escape(i.Reason));
        }

        return table;
    }

    public static void WriteServices(IEnumerable<ServiceInfo> services)
    {
        var table = new Table().Border(TableBorder.Simple).AddColumns("NAME", "STATUS", "READY", "VERSION", "GROUP", "ENDPOINT");
        foreach (var s in services)
        {
            table.AddRow(
                Markup.Escape(s.Name),
                Colored(s.Status),
                $"{s.Replicas?.Ready ?? 0}/{s.Replicas?.Desired ?? 0}",
                s.Version.ToString(CultureInfo.InvariantCulture),
                Markup.Escape(s.Group.Length == 0 ? "-" : s.TrafficState == "standalone" ? $"{s.Group} (standalone)" : s.Group),
                Markup.Escape(s.Endpoint));
        }

        AnsiConsole.Write(table);
    }

    public static void WriteNodes(IEnumerable<NodeInfo> nodes)
    {
        var table = new Table().Border(TableBorder.Simple)
            .AddColumns("NODE", "STATUS", "ADDRESS", "CPU (alloc/total)", "MEMORY MiB (alloc/total)", "INSTANCES", "LAST HEARTBEAT");
        foreach (var n in nodes)
        {
            table.AddRow(
                Markup.Escape(n.Name),
                Colored(n.Status),
                Markup.Escape(n.Address),
                $"{n.AllocatedCpuMillis}m/{n.CpuMillis}m",
                $"{n.AllocatedMemoryMib}/{n.MemoryMib}",
                n.InstanceCount.ToString(CultureInfo.InvariantCulture),
                Markup.Escape(Time(n.LastHeartbeat) ?? "-"));
        }

        AnsiConsole.Write(table);
        WriteGpus(nodes);
    }

    /// <summary>One row per GPU: health, usage and what is placed on it.</summary>
    public static void WriteGpus(IEnumerable<NodeInfo> nodes)
    {
        var withGpus = nodes.Where(n => n.Gpus.Count > 0).ToList();
        if (withGpus.Count == 0)
        {
            return;
        }

        var table = new Table().Border(TableBorder.Simple)
            .AddColumns("NODE", "GPU", "MODEL", "UUID", "HEALTH", "UTIL", "MEMORY MiB (used/total)", "ALLOCATED", "INSTANCES");
        foreach (var n in withGpus)
        {
            foreach (var g in n.Gpus)
            {
                var gpu = g.Gpu;
                var health = gpu.Healthy ? "[green]healthy[/]" : $"[red]unhealthy[/] {Markup.Escape(gpu.HealthReason)}";
                var allocated = g.Allocations.Count == 0
                    ? "-"
                    : g.Allocations.All(a => a.Allocation.Kind == GpuAllocation.WholeKind)
                        ? GpuAllocation.WholeKind
                        : $"{g.Allocations.Sum(a => a.Allocation.MemoryMib)} MiB, {g.Allocations.Sum(a => a.Allocation.CorePercentage)}%";
                table.AddRow(
                    Markup.Escape(n.Name),
                    gpu.Index.ToString(CultureInfo.InvariantCulture) + (gpu.MigEnabled ? " (MIG)" : ""),
                    Markup.Escape(gpu.Model),
                    Markup.Escape(gpu.Uuid),
                    health,
                    $"{gpu.Usage?.UtilizationPercent ?? 0}%",
                    $"{gpu.Usage?.MemoryUsedMib ?? 0}/{gpu.MemoryMib}",
                    Markup.Escape(allocated),
                    Markup.Escape(string.Join(", ", g.Allocations.Select(a => a.InstanceId))));
            }
        }

        AnsiConsole.Write(table);
    }

    public static string EventLine(Event e)
    {
        var who = string.IsNullOrEmpty(e.InstanceId) ? e.Service : e.InstanceId;
        var where = string.IsNullOrEmpty(e.Node) ? "" : $" [{e.Node}]";
        return $"{Time(e.Time)}  {e.Type,-10} {who}{where}  {e.Message}";
    }

    private static string GpuCell(InstanceInfo i) => i.Gpu switch
    {
        null => "-",
        { Kind: GpuAllocation.WholeKind } => string.Join(",", i.Gpu.GpuUuids.Select(Short)),
        { Kind: GpuAllocation.MigKind } => $"{Short(i.Gpu.MigUuid)} {i.Gpu.MemoryMib} MiB",
        _ => $"{Short(i.Gpu.GpuUuids[0])} {i.Gpu.MemoryMib} MiB {i.Gpu.CorePercentage}%",
    };

    // "GPU-8f0c2c1e-…" is enough to tell GPUs apart in a table; -o json has the full UUIDs.
    private static string Short(string uuid) => uuid.Length > 12 ? uuid[..12] + "…" : uuid;

    private static string? Time(Timestamp? t) =>
        t is null ? null : t.ToDateTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    private static string Colored(string status)
    {
        var color = status switch
        {
            "Running" or "Ready" => "green",
            "Failed" or "Down" => "red",
            // An HTTP status of a call record: 2xx and 3xx went through.
            _ when status.Length == 3 && status.All(char.IsAsciiDigit) => status[0] is '2' or '3' ? "green" : "red",
            "Stopped" or "Terminating" => "grey",
            _ => "yellow",
        };
        return $"[{color}]{Markup.Escape(status)}[/]";
    }
}
