using Grpc.Core;

namespace Eas.Node.Functional.Tests.Infrastructure;

/// <summary>The wait of the cluster fixtures: read the state every 100 ms until it is what the test wants.</summary>
internal static class Poll
{
    /// <summary>
    /// Calls <paramref name="read"/> until it returns a value, within <paramref name="timeout"/>; an RPC error counts as
    /// "not yet" (a daemon restarting) and is shown if time runs out. Fails at once, with <paramref name="logs"/>, when
    /// <paramref name="coordinatorExited"/> says the coordinator the answer depends on is gone.
    /// </summary>
    public static async Task<T> UntilAsync<T>(
        Func<Task<T?>> read, TimeSpan timeout, string what, Func<bool> coordinatorExited, Func<string> logs, Func<string>? state = null)
        where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        Exception? lastError = null;
        while (DateTime.UtcNow < deadline)
        {
            if (coordinatorExited())
            {
                throw new InvalidOperationException($"the coordinator exited while waiting for {what}\n{logs()}");
            }

            try
            {
                if (await read() is { } value)
                {
                    return value;
                }
            }
            catch (RpcException e)
            {
                lastError = e;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"timed out after {timeout.TotalSeconds:0} s waiting for {what}. {state?.Invoke()} {lastError?.Message}\n{logs()}");
    }
}
