using Eas.Node.Spec;

namespace Eas.Node.Cli;

/// <summary>Reads spec files the way users write them: relative <c>host</c> paths resolve against the file's folder.</summary>
internal static class SpecFiles
{
    public static string ReadText(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"-f {path}: cannot read the spec file ({e.Message})");
        }
    }

    public static string FolderOf(string path) => Path.GetDirectoryName(Path.GetFullPath(path)) ?? Directory.GetCurrentDirectory();

    /// <summary>
    /// Validates a whole spec and returns the canonical JSON to send. Every error is printed with its
    /// JSON path; nothing is sent when there is one.
    /// </summary>
    public static string Validate(string json, string baseDirectory, string source)
    {
        var result = SpecParser.Parse(json, new SpecParseOptions { BaseDirectory = baseDirectory });
        foreach (var warning in result.Warnings)
        {
            Console.Error.WriteLine($"warning: {warning}");
        }

        if (!result.IsValid)
        {
            var lines = result.Errors.Select(e => $"  {e}");
            throw new CliException($"{source} has {result.Errors.Count} error(s); nothing was changed:\n{string.Join('\n', lines)}");
        }

        return SpecWriter.ToJson(result.Spec!);
    }
}
