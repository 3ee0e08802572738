using System.CommandLine;
using System.Text.Json.Nodes;
using Eas.Node.Cli.Output;
using Eas.Node.Contracts.V1;

namespace Eas.Node.Cli.Commands;

/// <summary>Service groups and their traffic (group list/desc/traffic, release) and call records (records).</summary>
internal static class TrafficCommands
{
    /// <summary>The records <c>easctl records</c> shows without <c>-n</c>.</summary>
    public const int DefaultRecords = 20;

    /// <summary>The most records one <c>easctl records</c> asks for (the coordinator's limit).</summary>
    public const int MaxRecords = 10_000;

    private static readonly Argument<string> _groupArgument = new("name") { Description = "The group name (metadata.group)" };

    public static IEnumerable<Command> Create()
    {
        yield return GroupCommand();
        yield return ReleaseCommand();
        yield return RecordsCommand();
    }

    private static Command GroupCommand()
    {
        var command = new Command("group", "Service groups: one endpoint (/api/predict/<group>) over several services, split by Ready instances (auto) or by weight (customized)");
        command.Subcommands.Add(GroupListCommand());
        command.Subcommands.Add(GroupDescribeCommand());
        command.Subcommands.Add(GroupTrafficCommand());
        return command;
    }

    private static Command GroupListCommand()
    {
        var command = new Command("list", "List the service groups with their traffic mode and members") { ServiceCommands.Output };
        command.Aliases.Add("ls");
        command.SetAction((parse, ct) => CliContext.RunAsync(parse, async context =>
        {
            var response = await context.Services.ListGroupsAsync(new ListGroupsRequest(), cancellationToken: ct);
            if (parse.GetValue(ServiceCommands.Output) == "json")
            {
                Views.WriteJson(new JsonArray([.. response.Groups.Select(Views.GroupJson)]));
            }
            else
            {
                Views.WriteGroups(response.Groups);
            }

            return 0;
        }));
        return command;
    }

    private static Command GroupDescribeCommand()
    {
        var command = new Command("desc", "Describe a group: traffic mode, routing, and each member's weight, traffic state, instances and share of the traffic")
        {
            _groupArgument, ServiceCommands.Output,
        };
        command.Aliases.Add("describe");
        command.SetAction((parse, ct) => CliContext.RunAsync(parse, async context =>
        {
            var group = await context.Services.DescribeGroupAsync(new GroupRef { Name = parse.GetValue(_groupArgument)! }, cancellationToken: ct);
            WriteGroup(group, parse.GetValue(ServiceCommands.Output) == "json");
            return 0;
        }));
        return command;
    }

    private static Command GroupTrafficCommand()
    {
        var mode = new Option<string>("--mode")
        {
            Description = "auto: split by each member's Ready instances (canary); customized: split by each member's weight (blue-green, see easctl release)",
            Required = true,
        };
        mode.AcceptOnlyFromAmong("auto", "customized");
        var command = new Command("traffic", "Set how a group's endpoint splits traffic among its members") { _groupArgument, mode, ServiceCommands.Output };
        command.SetAction((parse, ct) => CliContext.RunAsync(parse, async context =>
        {
            var group = await context.Services.SetGroupTrafficAsync(
                new SetGroupTrafficRequest { Name = parse.GetValue(_groupArgument)!, Mode = parse.GetValue(mode)! }, cancellationToken: ct);
            var json = parse.GetValue(ServiceCommands.Output) == "json";
            if (!json)
            {
                Console.Out.WriteLine($"group {group.Name}: traffic mode {group.TrafficMode}");
            }

            WriteGroup(group, json);
            return 0;
        }));
        return command;
    }

    private static Command ReleaseCommand()
    {
        var name = new Argument<string>("name") { Description = "The service (a member of a group)" };
        var weight = new Option<int?>("--weight", "-w") { Description = "The service's weight in its group, 0 to 1000 (used in customized traffic mode; 0 takes no group traffic)" };
        var standalone = new Option<bool>("--standalone") { Description = "Take the service out of its group's traffic (its own endpoint keeps working)" };
        var grouping = new Option<bool>("--grouping") { Description = "Let the service take its group's traffic again" };
        var command = new Command("release", "Set a group member's weight and traffic state (EAS release): shift traffic for canary and blue-green releases")
        {
            name, weight, standalone, grouping, ServiceCommands.Output,
        };
        command.SetAction((parse, ct) => CliContext.RunAsync(parse, async context =>
        {
            var request = BuildRelease(parse.GetValue(name)!, parse.GetValue(weight), parse.GetValue(standalone), parse.GetValue(grouping));
            var response = await context.Services.ReleaseServiceAsync(request, cancellationToken: ct);
            if (parse.GetValue(ServiceCommands.Output) == "json")
            {
                Views.WriteJson(new JsonObject { ["message"] = response.Message, ["group"] = response.Group is null ? null : Views.GroupJson(response.Group) });
            }
            else
            {
                Console.Out.WriteLine(response.Message);
            }

            return 0;
        }));
        return command;
    }

    /// <summary>The release request for the options given; throws when they say nothing or contradict each other.</summary>
    internal static ReleaseServiceRequest BuildRelease(string service, int? weight, bool standalone, bool grouping)
    {
        if (standalone && grouping)
        {
            throw new CliException("--standalone and --grouping contradict each other; give one of them");
        }

        if (weight is < 0 or > 1000)
        {
            throw new CliException($"--weight {weight}: a weight is 0 to 1000 (0 takes no group traffic)");
        }

        if (weight is null && !standalone && !grouping)
        {
            throw new CliException("release needs --weight W, --standalone or --grouping; e.g. easctl release " + service + " --weight 100");
        }

        var request = new ReleaseServiceRequest { Name = service, TrafficState = standalone ? "standalone" : grouping ? "grouping" : "" };
        if (weight is { } w)
        {
            request.Weight = w;
        }

        return request;
    }

    private static Command RecordsCommand()
    {
        var name = new Argument<string>("name") { Description = "The service name" };
        var lines = new Option<int>("--lines", "-n") { Description = $"The newest N records (default {DefaultRecords}, at most {MaxRecords})", DefaultValueFactory = _ => DefaultRecords };
        var command = new Command("records", "Show a service's latest call records (sinker type \"file\"): time, status, method, path, latency, instance; -o json prints each record as written")
        {
            name, lines, ServiceCommands.Output,
        };
        command.SetAction((parse, ct) => CliContext.RunAsync(parse, async context =>
        {
            var n = parse.GetValue(lines);
            if (n is < 1 or > MaxRecords)
            {
                throw new CliException($"--lines {n}: give 1 to {MaxRecords}");
            }

            var response = await context.Services.ListCallRecordsAsync(new ListCallRecordsRequest { Service = parse.GetValue(name)!, Limit = n }, cancellationToken: ct);
            if (parse.GetValue(ServiceCommands.Output) == "json")
            {
                foreach (var record in response.Records)
                {
                    Console.Out.WriteLine(record);
                }
            }
            else if (response.Records.Count == 0)
            {
                Console.Error.WriteLine($"easctl: no call records in {response.File}; a service keeps them with \"sinker\": {{\"type\": \"file\"}} in its spec");
            }
            else
            {
                Views.WriteRecords(response.Records);
            }

            return 0;
        }));
        return command;
    }

    private static void WriteGroup(GroupInfo group, bool json)
    {
        if (json)
        {
            Views.WriteJson(Views.GroupJson(group));
        }
        else
        {
            Views.WriteGroup(group);
        }
    }
}
