namespace Eas.Node.Functional.Tests.Infrastructure;

/// <summary>A fact that needs a real cluster; skipped with the reason where this host can't run one.</summary>
public sealed class ClusterFactAttribute : FactAttribute
{
    public ClusterFactAttribute()
    {
        if (!Cluster.CanRun)
        {
            Skip = Cluster.WhyNot;
        }
    }
}
