namespace Eas.Node.Spec;

/// <summary>One problem found in a spec: where (JSON path), what rule, and how to fix it.</summary>
/// <param name="Path">JSON path such as <c>containers[0].port</c>; <c>$</c> for the whole document.</param>
/// <param name="Message">The rule that was broken, with the offending value.</param>
/// <param name="Fix">What to do about it.</param>
public sealed record SpecDiagnostic(string Path, string Message, string Fix)
{
    /// <inheritdoc />
    public override string ToString() => $"{Path}: {Message}; {Fix}";
}

/// <summary>Options for <see cref="SpecParser.Parse"/>.</summary>
public sealed record SpecParseOptions
{
    /// <summary>Relative <c>host</c> paths resolve against this folder (the spec file's); null leaves them an error.</summary>
    public string? BaseDirectory { get; init; }
}

/// <summary>The outcome of parsing: a spec when there are no errors, and every diagnostic.</summary>
public sealed record SpecParseResult(ServiceSpec? Spec, IReadOnlyList<SpecDiagnostic> Errors, IReadOnlyList<SpecDiagnostic> Warnings)
{
    /// <summary>True when <see cref="Spec"/> is set and there are no errors.</summary>
    public bool IsValid => Spec is not null && Errors.Count == 0;
}

/// <summary>Parses and validates EAS service JSON.</summary>
public static partial class SpecParser
{
}
