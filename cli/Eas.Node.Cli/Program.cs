using System.CommandLine;
using Eas.Node.Cli;
using Eas.Node.Cli.Commands;
using Spectre.Console;

// Piped into a file or another program, tables keep their rows on one line instead of wrapping at 80 columns.
if (Console.IsOutputRedirected)
{
    AnsiConsole.Profile.Width = 240;
}

var root = new RootCommand("easctl — drive an Eas.Node cluster: deploy EAS service JSON, scale, inspect, shift group traffic, read logs and call records.");
root.Options.Add(CliContext.CoordinatorOption);

foreach (var command in ServiceCommands.Create().Concat(TrafficCommands.Create()).Concat(ObserveCommands.Create()).Concat(NodeCommands.Create()))
{
    root.Subcommands.Add(command);
}

return await root.Parse(args).InvokeAsync();
