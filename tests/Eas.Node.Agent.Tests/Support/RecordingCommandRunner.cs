using System.Collections.Concurrent;
using Eas.Node.Agent.Runtime;

namespace Eas.Node.Agent.Tests.Support;

/// <summary>An <see cref="ICommandRunner"/> that records calls and answers with a scripted result.</summary>
internal sealed class RecordingCommandRunner(Func<string, IReadOnlyList<string>, CommandResult> respond) : ICommandRunner
{
    public ConcurrentQueue<(string File, IReadOnlyList<string> Args)> Calls { get; } = new();

    public async Task<CommandResult> RunAsync(string file, IEnumerable<string> arguments, CommandOptions? options = null, CancellationToken cancellationToken = default)
    {
        var args = arguments.ToList();
        Calls.Enqueue((file, args));
        await Task.Delay(20, cancellationToken);
        return respond(file, args);
    }
}
