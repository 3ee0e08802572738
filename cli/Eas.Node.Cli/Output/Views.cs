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
    };

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
    };

    public static JsonObject NodeJson(NodeInfo n) => new()
    {
        ["name"] = n.Name,
        ["address"] = n.Address,
        ["status"] = n.Status,
        ["cpu_millis"] = n.CpuMillis,
        ["memory_mib"] = n.MemoryMib,
        ["allocated_cpu_millis"] = n.AllocatedCpuMillis,
        ["allocated_memory_mib"] = n.AllocatedMemoryMib,
        ["instances"] = n.InstanceCount,
        ["labels"] = new JsonObject([.. n.Labels.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)JsonValue.Create(l.Value)))]),
        ["last_heartbeat"] = Time(n.LastHeartbeat),
        ["agent_version"] = n.AgentVersion,
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
            .AddColumns("INSTANCE", "NODE", "STATE", "IP", "RESTARTS", "VERSION", "REASON");
        foreach (var i in instances)
        {
            table.AddRow(
                Markup.Escape(i.Id),
                Markup.Escape(i.Node),
                Colored(StateName(i.State)),
                Markup.Escape(i.Ip.Length > 0 ? $"{i.Ip}:{i.Port}" : "-"),
                i.Restarts.ToString(CultureInfo.InvariantCulture),
                i.ServiceVersion.ToString(CultureInfo.InvariantCulture),
                Markup.Escape(i.Reason));
        }

        return table;
    }

    public static void WriteServices(IEnumerable<ServiceInfo> services)
    {
        var table = new Table().Border(TableBorder.Simple).AddColumns("NAME", "STATUS", "READY", "VERSION", "ENDPOINT");
        foreach (var s in services)
        {
            table.AddRow(
                Markup.Escape(s.Name),
                Colored(s.Status),
                $"{s.Replicas?.Ready ?? 0}/{s.Replicas?.Desired ?? 0}",
                s.Version.ToString(CultureInfo.InvariantCulture),
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
    }

    public static string EventLine(Event e)
    {
        var who = string.IsNullOrEmpty(e.InstanceId) ? e.Service : e.InstanceId;
        var where = string.IsNullOrEmpty(e.Node) ? "" : $" [{e.Node}]";
        return $"{Time(e.Time)}  {e.Type,-10} {who}{where}  {e.Message}";
    }

    private static string? Time(Timestamp? t) =>
        t is null ? null : t.ToDateTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    private static string Colored(string status)
    {
        var color = status switch
        {
            "Running" or "Ready" => "green",
            "Failed" or "Down" => "red",
            "Stopped" or "Terminating" => "grey",
            _ => "yellow",
        };
        return $"[{color}]{Markup.Escape(status)}[/]";
    }
}
