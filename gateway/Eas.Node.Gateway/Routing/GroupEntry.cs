using Eas.Node.Contracts.V1;
using Eas.Node.Gateway.Metrics;

namespace Eas.Node.Gateway.Routing;

/// <summary>
/// A service group (metadata.group): <c>/api/predict/&lt;group&gt;</c> spreads requests over the members that take group
/// traffic. Auto mode weighs each member by its Ready endpoints (canary by instance count); customized mode by its
/// weight 0-1000 (blue-green). Standalone members and members without a Ready endpoint get nothing.
/// </summary>
/// <remarks>
/// The split is deterministic and lock-free: request n (one shared counter) takes the point (n × stride) mod W on the
/// line of cumulative weights, W their sum and the stride coprime with W near W × 0.618. Every W consecutive requests
/// hit every point once, so each member gets exactly its share per W requests, interleaved rather than in runs.
/// </remarks>
internal sealed class GroupEntry
{
    private readonly ServiceEntry[] _picked;
    private readonly int[] _upTo;
    private readonly int _total;
    private readonly long _stride;
    private readonly GroupShared _shared;

    public GroupEntry(string name, TrafficMode mode, RoutingPolicy routing, ServiceEntry[] members, GroupShared shared)
    {
        Name = name;
        TrafficMode = mode;
        Routing = routing;
        Members = members;
        _shared = shared;

        // Any member's token opens the group; the group is open only when every member is.
        var hashes = members.Where(m => m.TokenSha256.Length > 0).Select(m => m.TokenSha256).ToArray();
        Tokens = hashes.Length == 0 ? new TokenSet([]) : new TokenSet(hashes);

        var picked = new List<ServiceEntry>();
        var upTo = new List<int>();
        var total = 0;
        foreach (var member in members)
        {
            var weight = WeightOf(member);
            if (weight <= 0)
            {
                continue;
            }

            total += weight;
            picked.Add(member);
            upTo.Add(total);
        }

        _picked = [.. picked];
        _upTo = [.. upTo];
        _total = total;
        _stride = Stride(total);
    }

    public string Name { get; }

    public TrafficMode TrafficMode { get; }

    /// <summary>GroupRoute.routing: the replica policy inside the chosen member when not least-requests.</summary>
    public RoutingPolicy Routing { get; }

    /// <summary>Every member, whether it takes group traffic or not.</summary>
    public ServiceEntry[] Members { get; }

    public TokenSet Tokens { get; }

    /// <summary>Metric children for requests answered before a member was chosen (401, 503).</summary>
    public GatewayMetrics.ServiceMetrics? Metrics { get; set; }

    /// <summary>The member's weight in this group now: Ready endpoints (auto) or its group weight (customized).</summary>
    public int WeightOf(ServiceEntry member)
    {
        if (member.Standalone || member.Endpoints.Length == 0)
        {
            return 0;
        }

        return TrafficMode == TrafficMode.Customized ? Math.Clamp(member.GroupWeight, 0, 1000) : member.Endpoints.Length;
    }

    /// <summary>The replica policy inside <paramref name="member"/> for requests that came through the group.</summary>
    public RoutingPolicy PolicyFor(ServiceEntry member) => Routing != RoutingPolicy.LeastRequests ? Routing : member.Routing;

    /// <summary>The member for the next request; null when no member takes group traffic.</summary>
    public ServiceEntry? PickMember()
    {
        var picked = _picked;
        if (picked.Length <= 1)
        {
            return picked.Length == 0 ? null : picked[0];
        }

        var n = Interlocked.Increment(ref _shared.Counter);
        var point = (int)((ulong)(n * _stride) % (ulong)_total);
        var upTo = _upTo;
        for (var i = 0; i < upTo.Length; i++)
        {
            if (point < upTo[i])
            {
                return picked[i];
            }
        }

        return picked[^1];
    }

    private static long Stride(int total)
    {
        if (total <= 2)
        {
            return 1;
        }

        var near = (int)Math.Round(total * 0.6180339887);
        for (var delta = 0; delta < total; delta++)
        {
            foreach (var candidate in (ReadOnlySpan<int>)[near + delta, near - delta])
            {
                if (candidate > 0 && candidate < total && Gcd(candidate, total) == 1)
                {
                    return candidate;
                }
            }
        }

        return 1;
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }
}

/// <summary>The group's request counter, carried from table to table so that a snapshot does not restart the split.</summary>
internal sealed class GroupShared
{
    // A field so that Interlocked can take it by reference; wraps after 2^63 requests.
    public long Counter;
}
