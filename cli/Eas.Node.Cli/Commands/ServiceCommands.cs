using System.CommandLine;
using System.Globalization;
using Eas.Node.Cli.Output;
using Eas.Node.Contracts.V1;
using Eas.Node.Spec;
using Spectre.Console;

namespace Eas.Node.Cli.Commands;

/// <summary>The EAS service verbs: create, modify, desc, list, delete, start, stop, scale, restart.</summary>
internal static class ServiceCommands
{
    private static readonly Argument<string> _nameArgument = new("name") { Description = "The service name (metadata.name)" };

    private static readonly Option<string> _outputOption = new("--output", "-o")
    {
        Description = "Output format: table (default) or json",
        DefaultValueFactory = _ => "table",
    };

    static ServiceCommands() => _outputOption.AcceptOnlyFromAmong("table", "json");

    public static IEnumerable<Command> Create()
    {
        yield return CreateCommand();
        yield return ModifyCommand();
        yield return DescribeCommand();
        yield return ListCommand();
        yield return DeleteCommand();
        yield return Simple("start", "Start a stopped service with its desired instance count", (c, n, ct) => c.Services.StartServiceAsync(new ServiceRef { Name = n }, cancellationToken: ct).ResponseAsync);
        yield return Simple("stop", "Stop every instance of a service and keep the service", (c, n, ct) => c.Services.StopServiceAsync(new ServiceRef { Name = n }, cancellationToken: ct).ResponseAsync);
        yield return ScaleCommand();
        yield return RestartCommand();
        yield return RollbackCommand();
    }

    internal static Option<string> Output => _outputOption;

    private static Command CreateCommand()
    {
        var file = new Option<string>("--file", "-f") { Description = "The EAS service JSON file", Required = true };
        var wait = new Option<bool>("--wait") { Description = "Wait until every instance is Ready, showing progress" };
        var timeout = WaitTimeoutOption();
        var command = new Command("create", "Create a service from an EAS service JSON file") { file, wait, timeout };
        command.SetAction((parse, ct) => CliContext.RunAsync(parse, async context =>
        {
            var path = parse.GetValue(file)!;
            var json = SpecFiles.Validate(SpecFiles.ReadText(path), SpecFiles.FolderOf(path), path);
            var created = await context.Services.CreateServiceAsync(new CreateServiceRequest { SpecJson = json }, cancellationToken: ct);
            Console.Out.WriteLine($"service {created.Name} created (version {created.Version})");
            var final = parse.GetValue(wait)
                ? await WaitReadyAsync(context, created.Name, TimeSpan.FromSeconds(parse.GetValue(timeout)), ct)
                : created;
            PrintInvocation(final);
            return 0;
        }));
        return command;
    }

    private static Command ModifyCommand()
    {
        var name = _nameArgument;
        var file = new Option<string?>("--file", "-f") { Description = "A (partial) EAS service JSON merged into the current spec" };
        var defines = new Option<string[]>("-D") { Description = "key=value, EAS style (e.g. -D metadata.instance=3); repeatable", AllowMultipleArgumentsPerToken = false };
        var wait = new Option<bool>("--wait") { Description = "Wait until every instance of the new version is Ready" };
        var timeout = WaitTimeoutOption();
        var command = new Command("modify", "Change a service: merge a JSON file or set keys with -D") { name, file, defines, wait, timeout };
        command.SetAction((parse, ct) => CliContext.RunAsync(parse, async context =>
        {
            var serviceName = parse.GetValue(name)!;
            var path = parse.GetValue(file);
            var sets = parse.GetValue(defines) ?? [];
            if (path is null && sets.Length == 0)
            {
                throw new CliException("modify needs -f FILE or at least one -D key=value");
            }

            var current = await context.Services.DescribeServiceAsync(new ServiceRef { Name = serviceName }, cancellationToken: ct);
            var merged = current.SpecJson;
            var baseDirectory = Directory.GetCurrentDirectory();
            try
            {
                if (path is not null)
                {
                    merged = SpecDocument.Merge(merged, SpecFiles.ReadText(path));
                    baseDirectory = SpecFiles.FolderOf(path);
                }

                foreach (var set in sets)
                {
                    var eq = set.IndexOf('=', StringComparison.Ordinal);
                    if (eq <= 0)
                    {
                        throw new CliException($"-D {set}: expected key=value, e.g. -D metadata.instance=3");
                    }

                    merged = SpecDocument.SetValue(merged, set[..eq], set[(eq + 1)..]);
                }
            }
            catch (SpecDocumentException e)
            {
                throw new CliException($"{path ?? "-D"}: {e.Message}");
            }

            var json = SpecFiles.Validate(merged, baseDirectory, path ?? "the modified spec");
            var modified = await context.Services.ModifyServiceAsync(new ModifyServiceRequest { Name = serviceName, SpecJson = json, Replace = true }, cancellationToken: ct);
            Console.Out.WriteLine($"service {modified.Name} modified (version {modified.Version})");
            if (parse.GetValue(wait))
            {
                await WaitReadyAsync(context, serviceName, TimeSpan.FromSeconds(parse.GetValue(timeout)), ct);
            }

            return 0;
        }));
        return command;
    }

    private static Command DescribeCommand()
    {
        var command = new Command("desc", "Describe a service: status, endpoint, token, replicas and instances") { _nameArgument, _outputOption };
        command.Aliases.Add("describe");
        command.SetAction((parse, ct) => CliContext.RunAsync(parse, async context =>
        {
            var service = await context.Services.DescribeServiceAsync(new ServiceRef { Name = parse.GetValue(_nameArgument)! }, cancellationToken: ct);
            if (parse.GetValue(_outputOption) == "json")
            {
                Views.WriteJson(Views.ServiceJson(service));
            }
            else
            {
                Views.WriteService(service);
            }

            return 0;
        }));
        return command;
    }

    private static Command ListCommand()
    {
        var command = new Command("list", "List services") { _outputOption };
        command.Aliases.Add("ls");
        command.SetAction((parse, ct) => CliContext.RunAsync(parse, async context =>
        {
            var response = await context.Services.ListServicesAsync(new ListServicesRequest(), cancellationToken: ct);
            if (parse.GetValue(_outputOption) == "json")
            {
                Views.WriteJson(new System.Text.Json.Nodes.JsonArray([.. response.Services.Select(Views.ServiceJson)]));
            }
            else
            {
                Views.WriteServices(response.Services);
            }

            return 0;
        }));
        return command;
    }

    private static Command ScaleCommand()
    {
        var count = new Argument<int>("instances") { Description = "The desired number of instances (0 or more)" };
        var wait = new Option<bool>("--wait") { Description = "Wait until that many instances are Ready" };
        var timeout = WaitTimeoutOption();
        var command = new Command("scale", "Set a service's instance count") { _nameArgument, count, wait, timeout };
        command.SetAction((parse, ct) => CliContext.RunAsync(parse, async context =>
        {
            var n = parse.GetValue(count);
            if (n < 0)
            {
                throw new CliException($"instances: {n} is negative; give 0 or more");
            }

            var service = await context.Services.ScaleServiceAsync(new ScaleServiceRequest { Name = parse.GetValue(_nameArgument)!, Instances = n }, cancellationToken: ct);
            Console.Out.WriteLine($"service {service.Name} scaled to {n} instance(s)");
            if (parse.GetValue(wait))
            {
                await WaitReadyAsync(context, service.Name, TimeSpan.FromSeconds(parse.GetValue(timeout)), ct);
            }

            return 0;
        }));
        return command;
    }

    private static Command RestartCommand()
    {
        var instance = new Option<string?>("--instance") { Description = "Restart only this instance, in place (same node, same version)" };
        var inPlace = new Option<bool>("--in-place") { Description = "Restart every instance in place at once, instead of a rolling restart" };
        var wait = new Option<bool>("--wait") { Description = "Wait until the rolling restart is done" };
        var timeout = WaitTimeoutOption();
        var command = new Command("restart", "Restart a service: a rolling update to a new version with the same spec (or in place with --instance / --in-place)")
        {
            _nameArgument, instance, inPlace, wait, timeout,
        };
        command.SetAction((parse, ct) => CliContext.RunAsync(parse, async context =>
        {
            var name = parse.GetValue(_nameArgument)!;
            var one = parse.GetValue(instance);
            if (one is not null || parse.GetValue(inPlace))
            {
                var response = await context.Services.RestartInstanceAsync(new RestartInstanceRequest { Service = name, InstanceId = one ?? "" }, cancellationToken: ct);
                Console.Out.WriteLine($"restarting {response.Instances.Count(i => one is null || i.Id == one)} instance(s) in place");
                return 0;
            }

            var service = await context.Services.RestartServiceAsync(new ServiceRef { Name = name }, cancellationToken: ct);
            Console.Out.WriteLine($"service {service.Name}: rolling restart to version {service.Version}");
            if (parse.GetValue(wait))
            {
                await WaitReadyAsync(context, name, TimeSpan.FromSeconds(parse.GetValue(timeout)), ct);
            }

            return 0;
        }));
        return command;
    }

    private static Command RollbackCommand()
    {
        var to = new Option<int>("--to") { Description = "The version to return to (default: the one before the last modify, restart or rollback)" };
        var wait = new Option<bool>("--wait") { Description = "Wait until every instance runs that version and is Ready" };
        var timeout = WaitTimeoutOption();
        var command = new Command("rollback", "Return a service to an earlier version with a rolling update (instances already on it are kept)") { _nameArgument, to, wait, timeout };
        command.SetAction((parse, ct) => CliContext.RunAsync(parse, async context =>
        {
            var name = parse.GetValue(_nameArgument)!;
            var target = parse.GetValue(to);
            if (target < 0)
            {
                throw new CliException($"--to {target}: versions start at 1; give a version that easctl desc or easctl events mention");
            }

            var before = await context.Services.DescribeServiceAsync(new ServiceRef { Name = name }, cancellationToken: ct);
            var service = await context.Services.RollbackServiceAsync(new RollbackServiceRequest { Name = name, ToVersion = target }, cancellationToken: ct);
            Console.Out.WriteLine($"service {service.Name}: rolling back from version {before.Version} to version {service.Version}");
            if (parse.GetValue(wait))
            {
                await WaitReadyAsync(context, name, TimeSpan.FromSeconds(parse.GetValue(timeout)), ct);
            }

            return 0;
        }));
        return command;
    }

    private static Command Simple(string verb, string description, Func<CliContext, string, CancellationToken, Task<ServiceInfo>> call)
    {
        var command = new Command(verb, description) { _nameArgument };
        command.SetAction((parse, ct) => CliContext.RunAsync(parse, async context =>
        {
            var service = await call(context, parse.GetValue(_nameArgument)!, ct);
            Console.Out.WriteLine($"service {service.Name}: {verb} accepted ({service.Status})");
            return 0;
        }));
        return command;
    }

    private static Command DeleteCommand()
    {
        var command = new Command("delete", "Delete a service: stop its instances and forget it") { _nameArgument };
        command.SetAction((parse, ct) => CliContext.RunAsync(parse, async context =>
        {
            var response = await context.Services.DeleteServiceAsync(new ServiceRef { Name = parse.GetValue(_nameArgument)! }, cancellationToken: ct);
            Console.Out.WriteLine($"service {response.Name}: deleting (its instances stop, then it is gone)");
            return 0;
        }));
        return command;
    }

    private static Option<int> WaitTimeoutOption() => new("--timeout")
    {
        Description = "Seconds to wait with --wait (default 600)",
        DefaultValueFactory = _ => 600,
    };

    /// <summary>Polls the service until every desired instance is Ready, showing progress; throws on timeout.</summary>
    private static async Task<ServiceInfo> WaitReadyAsync(CliContext context, string name, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        var interactive = AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;
        string? lastLine = null;
        ServiceInfo service;
        while (true)
        {
            service = await context.Services.DescribeServiceAsync(new ServiceRef { Name = name }, cancellationToken: ct);
            var line = Progress(service);
            if (line != lastLine)
            {
                if (interactive)
                {
                    AnsiConsole.MarkupLine(Markup.Escape(line));
                }
                else
                {
                    Console.Out.WriteLine(line);
                }

                lastLine = line;
            }

            var desired = service.Replicas?.Desired ?? 0;
            var current = service.Instances.Where(i => i.ServiceVersion == service.Version).ToList();
            // Done once enough instances of the current version are Ready and no older one is still routed
            // (those being removed finish their grace in the background, out of the gateway).
            if (current.Count(i => i.State == InstanceState.Ready) >= desired && (service.Rollout?.Outgoing ?? 0) == 0)
            {
                return service;
            }

            if (service.Rollout is { Paused.Length: > 0 } paused)
            {
                throw new CliException($"{name}: the rollout to version {service.Version} is paused: {paused.Paused}; the old version keeps serving. Roll back with 'easctl rollback {name}', or fix the spec and modify again");
            }

            if (DateTime.UtcNow > deadline)
            {
                var events = await context.Services.ListEventsAsync(new ListEventsRequest { Service = name, Limit = 10 }, cancellationToken: ct);
                var recent = string.Join('\n', events.Events.Select(e => "  " + Views.EventLine(e)));
                throw new CliException($"{name}: not all instances Ready after {timeout.TotalSeconds:0} s ({line}); latest events:\n{recent}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), ct);
        }
    }

    private static string Progress(ServiceInfo s)
    {
        var byState = s.Instances
            .GroupBy(i => Views.StateName(i.State))
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => $"{g.Key}: {g.Count().ToString(CultureInfo.InvariantCulture)}");
        var message = string.IsNullOrEmpty(s.Message) ? "" : $" — {s.Message}";
        var rollout = s.Rollout is { Active: true } r ? $"; {Views.RolloutLine(r)}" : "";
        return $"{s.Name}: {s.Replicas?.Ready ?? 0}/{s.Replicas?.Desired ?? 0} ready ({string.Join(", ", byState)}){rollout}{message}";
    }

    private static void PrintInvocation(ServiceInfo s)
    {
        Console.Out.WriteLine($"endpoint: {s.Endpoint}");
        Console.Out.WriteLine($"token:    {s.Token}");
        Console.Out.WriteLine($"try:      curl -H \"Authorization: {s.Token}\" {s.Endpoint}/");
    }
}
