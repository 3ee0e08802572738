namespace Eas.Node.Spec.Parsing;

/// <summary>
/// Path arithmetic on POSIX paths as plain strings, so that parsing never depends on the machine it
/// runs on (no current directory, no file system, no Windows rules).
/// </summary>
internal static class PosixPath
{
    public static bool IsAbsolute(string path) => path.StartsWith('/');

    /// <summary>Collapses repeated slashes, drops "." and a trailing slash; keeps "..", which callers judge.</summary>
    public static string Clean(string absolute) =>
        "/" + string.Join('/', absolute.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(s => s != "."));

    /// <summary>True when a path segment is "..".</summary>
    public static bool HasParentSegment(string path) => path.Split('/').Contains("..", StringComparer.Ordinal);

    /// <summary>Joins <paramref name="path"/> to <paramref name="baseDirectory"/> unless it is absolute, then resolves "." and "..".</summary>
    public static string Resolve(string baseDirectory, string path)
    {
        var combined = IsAbsolute(path) ? path : $"{baseDirectory}/{path}";
        var segments = new List<string>();
        foreach (var segment in combined.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (segment == "..")
            {
                if (segments.Count > 0)
                {
                    segments.RemoveAt(segments.Count - 1);
                }
            }
            else if (segment != ".")
            {
                segments.Add(segment);
            }
        }

        return "/" + string.Join('/', segments);
    }

    /// <summary>True when <paramref name="path"/> is <paramref name="folder"/> or inside it (both clean).</summary>
    public static bool IsUnder(string path, string folder) =>
        path == folder || path.StartsWith(folder + "/", StringComparison.Ordinal);
}
