using System.Globalization;

namespace Eas.Node.Spec;

/// <summary>
/// <c>metadata.rolling_strategy</c>: how fast a rolling update (a modify, a restart, a rollback) replaces
/// instances. Each step creates up to <see cref="SurgeFor"/> new instances beyond the desired count and
/// lets the ready count fall at most <see cref="UnavailableFor"/> below it.
/// </summary>
/// <param name="MaxSurge"><c>max_surge</c>, or null for EAS's default: 2% of the replicas, at least 1.</param>
/// <param name="MaxUnavailable"><c>max_unavailable</c>, or null for the default 0 (nothing stops before its replacement is Ready).</param>
public sealed record RollingStrategy(RolloutAmount? MaxSurge, RolloutAmount? MaxUnavailable)
{
    /// <summary>The defaults: surge 2% (at least 1), unavailable 0.</summary>
    public static RollingStrategy Default { get; } = new(null, null);

    /// <summary>Extra instances allowed during a roll of <paramref name="replicas"/>; percentages round up.</summary>
    public int SurgeFor(int replicas)
    {
        var surge = MaxSurge?.Resolve(replicas, roundUp: true) ?? Math.Max(1, Percent(replicas, 2, roundUp: true));

        // A roll with neither surge nor unavailability could never make progress.
        return surge == 0 && UnavailableFor(replicas) == 0 ? 1 : surge;
    }

    /// <summary>How many below <paramref name="replicas"/> the ready count may fall; percentages round down.</summary>
    public int UnavailableFor(int replicas) => MaxUnavailable?.Resolve(replicas, roundUp: false) ?? 0;

    /// <summary>N% of <paramref name="replicas"/>, rounded up or down.</summary>
    internal static int Percent(int replicas, int percent, bool roundUp)
    {
        var exact = replicas * percent / 100.0;
        return (int)(roundUp ? Math.Ceiling(exact) : Math.Floor(exact));
    }
}

/// <summary>A count or a percentage of the replicas, as <c>max_surge</c> and <c>max_unavailable</c> take them.</summary>
/// <param name="Value">The count, or the percentage (0–100).</param>
/// <param name="IsPercent">True for <c>"N%"</c>.</param>
public readonly record struct RolloutAmount(int Value, bool IsPercent)
{
    /// <summary>The count for <paramref name="replicas"/> replicas.</summary>
    public int Resolve(int replicas, bool roundUp) => IsPercent ? RollingStrategy.Percent(replicas, Value, roundUp) : Value;

    /// <summary>"2" or "25%", as written in the spec.</summary>
    public override string ToString() => IsPercent ? $"{Value.ToString(CultureInfo.InvariantCulture)}%" : Value.ToString(CultureInfo.InvariantCulture);
}
