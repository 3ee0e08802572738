namespace Eas.Node.Spec.Tests;

public sealed class RollingStrategyTests
{
    [Fact]
    public void Parse_NoRollingStrategy_EasDefaults_SurgeTwoPercentAtLeastOne_UnavailableZero()
    {
        var spec = Parse("{}");

        spec.RollingStrategy.Should().Be(RollingStrategy.Default);
        spec.RollingStrategy.SurgeFor(4).Should().Be(1);
        spec.RollingStrategy.SurgeFor(100).Should().Be(2);
        spec.RollingStrategy.SurgeFor(101).Should().Be(3, "2% of 101 rounds up");
        spec.RollingStrategy.UnavailableFor(100).Should().Be(0);
    }

    [Theory]
    [InlineData("""{"max_surge": 2, "max_unavailable": 1}""", 10, 2, 1)]
    [InlineData("""{"max_surge": "50%", "max_unavailable": "25%"}""", 10, 5, 2)]
    [InlineData("""{"max_surge": "0%", "max_unavailable": 1}""", 10, 0, 1)]
    [InlineData("""{"max_unavailable": "100%"}""", 4, 1, 4)]
    public void Parse_CountsAndPercentages_ResolveAgainstTheReplicas(string strategy, int replicas, int surge, int unavailable)
    {
        var spec = Parse($$"""{"rolling_strategy": {{strategy}}}""");

        spec.RollingStrategy.SurgeFor(replicas).Should().Be(surge);
        spec.RollingStrategy.UnavailableFor(replicas).Should().Be(unavailable);
    }

    [Theory]
    [InlineData("""{"max_surge": 0, "max_unavailable": 0}""", "metadata.rolling_strategy.max_surge", "could never replace an instance")]
    [InlineData("""{"max_surge": "120%"}""", "metadata.rolling_strategy.max_surge", "\"120%\" is not valid")]
    [InlineData("""{"max_surge": "two"}""", "metadata.rolling_strategy.max_surge", "a whole number 0 to 1000 or a percentage")]
    [InlineData("""{"max_unavailable": -1}""", "metadata.rolling_strategy.max_unavailable", "out of range")]
    [InlineData("""{"max_unavailable": 1.5}""", "metadata.rolling_strategy.max_unavailable", "must be a whole number")]
    public void Parse_BadValues_ErrorNamesTheFieldAndTheRule(string strategy, string path, string message)
    {
        var result = SpecParser.Parse(Json($$"""{"rolling_strategy": {{strategy}}}"""));

        result.IsValid.Should().BeFalse();
        result.Errors.Should().Contain(e => e.Path == path && e.Message.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_UnknownKeyInRollingStrategy_IsAWarning()
    {
        var result = SpecParser.Parse(Json("""{"rolling_strategy": {"max_surge": 1, "surge": 2}}"""));

        result.IsValid.Should().BeTrue();
        result.Warnings.Should().Contain(w => w.Path == "metadata.rolling_strategy.surge");
    }

    [Fact]
    public void Write_RollingStrategy_RoundTrips()
    {
        var spec = Parse("""{"rolling_strategy": {"max_surge": "25%", "max_unavailable": 1}}""");

        var again = SpecParser.Parse(SpecWriter.ToJson(spec)).Spec;

        again.Should().Be(spec);
        again!.RollingStrategy.MaxSurge.Should().Be(new RolloutAmount(25, IsPercent: true));
    }

    private static ServiceSpec Parse(string metadataExtra)
    {
        var result = SpecParser.Parse(Json(metadataExtra == "{}" ? "{}" : metadataExtra));
        result.Errors.Should().BeEmpty();
        return result.Spec!;
    }

    private static string Json(string metadataExtra)
    {
        var inner = metadataExtra.Trim()[1..^1].Trim();
        var extra = inner.Length == 0 ? "" : ", " + inner;
        return $$"""{"metadata": {"name": "demo", "instance": 4{{extra}}}, "containers": [{"image": "host", "script": "true", "port": 8000}]}""";
    }
}
