namespace Eas.Node.Agent.Tests.Support;

/// <summary>A fact that needs root, runc, conmon and the CNI plugins; skipped with the reason otherwise.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        var missing = MissingPrerequisite();
        if (missing is not null)
        {
            Skip = missing;
            Console.WriteLine($"SKIP functional agent test: {missing}");
        }
    }

    internal static string? MissingPrerequisite()
    {
        if (Environment.UserName != "root" && Tmds.Linux.LibC.geteuid() != 0)
        {
            return "needs root (runc, network namespaces, cgroups)";
        }

        foreach (var binary in new[] { "/usr/sbin/runc", "/usr/bin/conmon", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/portmap", "/usr/bin/python3" })
        {
            if (!File.Exists(binary))
            {
                return $"{binary} is not installed";
            }
        }

        return null;
    }
}
