namespace Eas.Node.Agent.Options;

/// <summary>Where the configuration came from, so errors can name the file to fix.</summary>
/// <param name="FilePath">The <c>--config</c> file, or null when none was given.</param>
public sealed record ConfigSource(string? FilePath)
{
    /// <summary>The name error messages start with.</summary>
    public string Name => FilePath ?? "command line";
}
