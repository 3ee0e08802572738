using Eas.Node.Coordinator.Store;
using Eas.Node.Spec;

namespace Eas.Node.Coordinator.Endpoints;

/// <summary>
/// How a group's endpoint treats its members, the way the gateway does it: who can be picked, with which weight,
/// and whether replicas are picked LLM-aware. The endpoint feed and the admin API's group views share these rules.
/// </summary>
public static class GroupTraffic
{
    /// <summary>One member as the rules see it.</summary>
    /// <param name="Service">The member's record (group weight, traffic state, type).</param>
    /// <param name="Spec">Its current spec, or null when it cannot be read.</param>
    /// <param name="Ready">Its Ready instances (endpoints).</param>
    public sealed record Member(ServiceRecord Service, ServiceSpec? Spec, int Ready);

    /// <summary>
    /// The weight the member is picked with: in auto mode its Ready instances, in customized mode its group weight;
    /// 0 for a standalone member, a member without a Ready instance, and an LLMGatewayService (it has no instances).
    /// </summary>
    public static int PickWeight(Member member, GroupTrafficMode mode)
    {
        if (member.Service.TrafficState == MemberTrafficState.Standalone || member.Ready == 0 || member.Service.IsLlmGateway)
        {
            return 0;
        }

        return mode == GroupTrafficMode.Customized ? member.Service.GroupWeight : member.Ready;
    }

    /// <summary>Each member's share of the group endpoint's requests in percent (0-100), in the order given; all 0 when none can be picked.</summary>
    public static IReadOnlyList<double> SharesPercent(IReadOnlyList<Member> members, GroupTrafficMode mode)
    {
        var weights = members.Select(m => PickWeight(m, mode)).ToList();
        var total = weights.Sum(w => (long)w);
        return weights.Select(w => total == 0 ? 0 : Math.Round(100.0 * w / total, 2)).ToList();
    }

    /// <summary>
    /// True when the group endpoint routes LLM-aware: a member is an LLMGatewayService that is not stopped, or a
    /// member's spec asks for <c>metadata.routing: "llm"</c>.
    /// </summary>
    public static bool UsesLlmRouting(IEnumerable<Member> members) =>
        members.Any(m => (m.Service.IsLlmGateway && !m.Service.Stopped) || m.Spec?.Routing == ServiceRouting.Llm);
}
