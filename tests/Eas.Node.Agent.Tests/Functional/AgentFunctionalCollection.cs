namespace Eas.Node.Agent.Tests.Functional;

/// <summary>
/// Functional tests run one at a time: they start real containers and measure deploy latency and memory,
/// which a parallel pip install on a 2-core machine would distort.
/// </summary>
[CollectionDefinition(Name)]
public sealed class AgentFunctionalCollection
{
    public const string Name = "agent functional";
}
