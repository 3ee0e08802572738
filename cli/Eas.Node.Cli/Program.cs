using System.CommandLine;
using Eas.Node.Cli;
using Eas.Node.Cli.Commands;

var root = new RootCommand("easctl — drive an Eas.Node cluster: deploy EAS service JSON, scale, inspect, read logs.");
root.Options.Add(CliContext.CoordinatorOption);

foreach (var command in ServiceCommands.Create().Concat(ObserveCommands.Create()))
{
    root.Subcommands.Add(command);
}

return await root.Parse(args).InvokeAsync();
