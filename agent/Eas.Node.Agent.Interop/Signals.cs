using Tmds.Linux;

namespace Eas.Node.Agent.Interop;

/// <summary>Signals sent to processes the agent does not own as children (conmon and container processes).</summary>
public static class Signals
{
    /// <summary>SIGTERM, the polite stop request.</summary>
    public static int Term => LibC.SIGTERM;

    /// <summary>SIGKILL, the stop that cannot be refused.</summary>
    public static int Kill => LibC.SIGKILL;

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>.</summary>
    /// <returns>True when delivered; false when the process does not exist (ESRCH).</returns>
    /// <exception cref="InvalidOperationException">Any other failure (for example EPERM).</exception>
    /// see: https://man7.org/linux/man-pages/man2/kill.2.html
    public static bool Send(int pid, int signal)
    {
        if (pid <= 0)
        {
            // kill(0 or negative) addresses process groups; never what a caller holding a stale pid means.
            return false;
        }

        if (LibC.kill(pid, signal) == 0)
        {
            return true;
        }

        var errno = Errors.LastLibC;
        if (errno == LibC.ESRCH)
        {
            return false;
        }

        throw new InvalidOperationException($"kill({pid}, {signal}) failed: {Errors.Describe(errno)}");
    }

    /// <summary>True when a process with this pid exists (signal 0 probes without delivering).</summary>
    /// see: https://man7.org/linux/man-pages/man2/kill.2.html
    public static bool IsAlive(int pid)
    {
        if (pid <= 0)
        {
            return false;
        }

        return LibC.kill(pid, 0) == 0 || Errors.LastLibC == LibC.EPERM;
    }
}
