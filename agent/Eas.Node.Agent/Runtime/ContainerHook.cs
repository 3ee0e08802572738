using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Interop;
using Eas.Node.Agent.Options;
using Microsoft.Extensions.Options;

namespace Eas.Node.Agent.Runtime;

/// <summary>
/// The runtime's hooks: writes the OCI bundle before the first start, reaps an exited container so it can
/// be created again, sends SIGTERM at once when the spec enables it, and deletes the container on stop.
/// </summary>
public sealed class ContainerHook(ConmonRuncDriver driver, IOptions<AgentOptions> options) : IPrestartHook, IPrekillHook, IExitedHook, IStopHook
{
    /// <inheritdoc/>
    public string Name => "container";

    /// <inheritdoc/>
    public Task PrestartAsync(InstanceContext context, CancellationToken cancellationToken)
    {
        OciBundleWriter.Write(context, options.Value.OutboundNetwork);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task PrekillAsync(InstanceContext context, CancellationToken cancellationToken)
    {
        if (context.Assignment.Spec?.EnableSigterm == true)
        {
            driver.Signal(context, Signals.Term);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task ExitedAsync(InstanceContext context, ExitStatus exit, CancellationToken cancellationToken)
        => driver.DeleteAsync(context, force: false, cancellationToken);

    /// <inheritdoc/>
    public Task StopAsync(InstanceContext context, CancellationToken cancellationToken)
        => driver.DeleteAsync(context, force: true, cancellationToken);
}
