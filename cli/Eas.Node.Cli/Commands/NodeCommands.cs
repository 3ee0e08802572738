using System.CommandLine;
using Eas.Node.Contracts.V1;

namespace Eas.Node.Cli.Commands;

/// <summary>Node maintenance: cordon, uncordon, drain.</summary>
internal static class NodeCommands
{
    private static readonly Argument<string> _nodeArgument = new("node") { Description = "The node name, as easctl nodes shows it" };

    public static IEnumerable<Command> Create()
    {
        yield return Verb("cordon", "Place no new instance on a node; what runs there stays", (context, node, ct) => context.Services.CordonNodeAsync(node, cancellationToken: ct).ResponseAsync);
        yield return Verb("uncordon", "Let a cordoned or drained node take new instances again", (context, node, ct) => context.Services.UncordonNodeAsync(node, cancellationToken: ct).ResponseAsync);
        yield return Verb("drain", "Move every instance off a node (each is replaced elsewhere, then stopped) and cordon it", (context, node, ct) => context.Services.DrainNodeAsync(node, cancellationToken: ct).ResponseAsync);
    }

    private static Command Verb(string verb, string description, Func<CliContext, NodeRef, CancellationToken, Task<NodeInfo>> call)
    {
        var command = new Command(verb, description) { _nodeArgument };
        command.SetAction((parse, ct) => CliContext.RunAsync(parse, async context =>
        {
            var node = await call(context, new NodeRef { Name = parse.GetValue(_nodeArgument)! }, ct);
            var left = verb == "drain" ? $", {node.InstanceCount} instance(s) still on it" : "";
            Console.Out.WriteLine($"node {node.Name}: {node.Status}{left}");
            return 0;
        }));
        return command;
    }
}
