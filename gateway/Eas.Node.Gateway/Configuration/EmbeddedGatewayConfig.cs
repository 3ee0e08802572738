namespace Eas.Node.Gateway.Configuration;

/// <summary>
/// The <c>Gateway</c> section of the coordinator's config file: settings of the gateway embedded in the coordinator,
/// with the same keys as the standalone gateway's <c>gateway.json</c> (<c>Llm:*</c>, <c>Records:MaxFileBytes</c>,
/// <c>Tracing:OtlpProtocol</c>, …) except those the <c>Coordinator</c> section already holds.
/// </summary>
public static class EmbeddedGatewayConfig
{
    /// <summary>The section's name in the coordinator's configuration.</summary>
    public const string SectionName = GatewayOptions.SectionName;

    // Keys (case-insensitive) the embedded gateway takes from elsewhere, with the fix that says where.
    private static readonly Dictionary<string, string> _heldElsewhere = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Gateway:Listen"] = "set Coordinator:GatewayListen",
        ["Gateway:MaxRequestBodyBytes"] = "set Coordinator:MaxRequestBodyBytes",
        ["Gateway:MetricsListen"] = "set Coordinator:MetricsListen (the coordinator's and the embedded gateway's metrics share it)",
        ["Gateway:Records:Directory"] = "set Coordinator:RecordsDirectory (easctl records reads there)",
        ["Gateway:Tracing:OtlpEndpoint"] = "set Coordinator:TracingOtlpEndpoint",
        ["Gateway:Coordinator"] = "remove it; the embedded gateway is fed by its own coordinator",
        ["Gateway:Name"] = "remove it; the embedded gateway is named 'embedded'",
        ["Gateway:StaticRoutes"] = "remove it; static routes are for a standalone eas-gateway",
    };

    /// <summary>
    /// Reads the <c>Gateway</c> section of <paramref name="configuration"/> into gateway options (defaults where it is
    /// absent); every bad key or value adds one error to <paramref name="errors"/> naming <paramref name="source"/>,
    /// the key, the rule and the fix.
    /// </summary>
    public static GatewayOptions Read(IConfiguration configuration, string source, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(errors);
        var options = new GatewayOptions { Name = "embedded" };
        var before = errors.Count;
        GatewayConfigLoader.Apply(configuration.GetSection(SectionName).AsEnumerable(), source, options, errors, _heldElsewhere);
        if (errors.Count == before)
        {
            // The keys held elsewhere keep their (valid) defaults here, so only this section's values can fail.
            errors.AddRange(options.Validate().Select(problem => $"{source}: {problem}"));
        }

        return options;
    }
}
