using System.CommandLine;
using System.Text.Json.Nodes;
using Eas.Node.Cli.Output;
using Eas.Node.Contracts.V1;
using Grpc.Core;

namespace Eas.Node.Cli.Commands;

/// <summary>Verbs that look at a running cluster: logs, events, nodes.</summary>
internal static class ObserveCommands
{
    public static IEnumerable<Command> Create()
    {
        yield return LogsCommand();
        yield return EventsCommand();
        yield return NodesCommand();
    }

    private static Command LogsCommand()
    {
        var name = new Argument<string>("name") { Description = "The service name" };
        var lines = new Option<int>("--lines", "-n") { Description = "Lines from the end of each instance's output (default 100)", DefaultValueFactory = _ => 100 };
        var instance = new Option<string?>("--instance") { Description = "Only this instance" };
        var command = new Command("logs", "Show the latest output of a service's instances") { name, lines, instance };
        command.SetAction((parse, ct) => CliContext.RunAsync(parse, async context =>
        {
            var response = await context.Services.GetLogsAsync(
                new GetLogsRequest { Service = parse.GetValue(name)!, InstanceId = parse.GetValue(instance) ?? "", TailLines = parse.GetValue(lines) },
                cancellationToken: ct);
            var failed = 0;
            foreach (var log in response.Logs)
            {
                Console.Out.WriteLine($"==> {log.InstanceId} on {log.Node} <==");
                if (log.Error.Length > 0)
                {
                    Console.Error.WriteLine($"easctl: {log.InstanceId}: {log.Error}");
                    failed++;
                    continue;
                }

                foreach (var line in log.Lines)
                {
                    Console.Out.WriteLine(line);
                }
            }

            return failed > 0 && failed == response.Logs.Count ? CliContext.ExitRefused : 0;
        }));
        return command;
    }

    private static Command EventsCommand()
    {
        var name = new Argument<string>("name") { Description = "The service name" };
        var limit = new Option<int>("--lines", "-n") { Description = "Show the latest N events (default all)" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing new events until interrupted" };
        var command = new Command("events", "Show a service's events: created, scheduled, started, ready, failed, stopped") { name, limit, follow };
        command.SetAction((parse, ct) => CliContext.RunAsync(parse, async context =>
        {
            var service = parse.GetValue(name)!;
            var events = await context.Services.ListEventsAsync(new ListEventsRequest { Service = service, Limit = parse.GetValue(limit) }, cancellationToken: ct);
            long last = 0;
            foreach (var e in events.Events)
            {
                Console.Out.WriteLine(Views.EventLine(e));
                last = e.Seq;
            }

            if (parse.GetValue(follow))
            {
                using var watch = context.Services.WatchEvents(new WatchEventsRequest { Service = service, AfterSeq = last }, cancellationToken: ct);
                await foreach (var e in watch.ResponseStream.ReadAllAsync(ct))
                {
                    Console.Out.WriteLine(Views.EventLine(e));
                }
            }

            return 0;
        }));
        return command;
    }

    private static Command NodesCommand()
    {
        var command = new Command("nodes", "List the nodes (agents) and what is allocated on each") { ServiceCommands.Output };
        command.SetAction((parse, ct) => CliContext.RunAsync(parse, async context =>
        {
            var response = await context.Services.ListNodesAsync(new ListNodesRequest(), cancellationToken: ct);
            if (parse.GetValue(ServiceCommands.Output) == "json")
            {
                Views.WriteJson(new JsonArray([.. response.Nodes.Select(Views.NodeJson)]));
            }
            else
            {
                Views.WriteNodes(response.Nodes);
            }

            return 0;
        }));
        return command;
    }
}
