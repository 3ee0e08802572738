using Microsoft.Win32.SafeHandles;

namespace Eas.Node.Agent.Storage;

/// <summary>What a cache source is at the moment it is looked at: a file (size, mtime) or a directory (mtime).</summary>
/// <param name="IsDirectory">True for a directory.</param>
/// <param name="Size">The file's size; 0 for a directory.</param>
/// <param name="ModifiedTicks">The last write time, UTC ticks.</param>
public readonly record struct CacheSourceVersion(bool IsDirectory, long Size, long ModifiedTicks);

/// <summary>One regular file of a cache source, by its path relative to the source.</summary>
/// <param name="RelativePath">Relative path ("weights/model.safetensors"; the file name for a file source).</param>
/// <param name="Size">Bytes.</param>
/// <param name="Mode">Permission bits.</param>
public sealed record CacheSourceFile(string RelativePath, long Size, UnixFileMode Mode);

/// <summary>Everything under a cache source: directories, symbolic links (kept as links) and regular files.</summary>
public sealed class CacheTree
{
    /// <summary>Directories, relative, parents before children.</summary>
    public List<string> Directories { get; } = [];

    /// <summary>Symbolic links: relative path and the link's target as written.</summary>
    public List<(string RelativePath, string Target)> Links { get; } = [];

    /// <summary>Regular files.</summary>
    public List<CacheSourceFile> Files { get; } = [];

    /// <summary>The bytes of all files.</summary>
    public long Bytes => Files.Sum(f => f.Size);
}

/// <summary>How the cache reads its sources; the tests count calls through it.</summary>
internal interface ICacheSourceFiles
{
    /// <summary>The version of <paramref name="path"/> (one stat); null when it does not exist.</summary>
    CacheSourceVersion? Stat(string path);

    /// <summary>The tree under <paramref name="root"/> (a directory), or the file itself.</summary>
    CacheTree Walk(string root);

    /// <summary>Opens a source file for reading.</summary>
    SafeFileHandle Open(string path);

    /// <summary>Reads at <paramref name="offset"/> (pread); 0 at the end of the file.</summary>
    int Read(SafeFileHandle handle, Span<byte> buffer, long offset);
}

/// <summary>The real file system.</summary>
internal sealed class CacheSourceFiles : ICacheSourceFiles
{
    public static readonly CacheSourceFiles Instance = new();

    public CacheSourceVersion? Stat(string path)
    {
        if (Directory.Exists(path))
        {
            return new CacheSourceVersion(true, 0, Directory.GetLastWriteTimeUtc(path).Ticks);
        }

        var file = new FileInfo(path);
        return file.Exists ? new CacheSourceVersion(false, file.Length, file.LastWriteTimeUtc.Ticks) : null;
    }

    public CacheTree Walk(string root)
    {
        var tree = new CacheTree();
        if (!Directory.Exists(root))
        {
            var file = new FileInfo(root);
            tree.Files.Add(new CacheSourceFile(file.Name, file.Length, file.UnixFileMode));
            return tree;
        }

        var pending = new Stack<DirectoryInfo>();
        pending.Push(new DirectoryInfo(root));
        while (pending.TryPop(out var dir))
        {
            // Ordinal order keeps walks (and so manifests) the same from run to run.
            foreach (var entry in dir.EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
            {
                var relative = Path.GetRelativePath(root, entry.FullName);
                if (entry.LinkTarget is { } target)
                {
                    tree.Links.Add((relative, target));
                }
                else if (entry is DirectoryInfo subdir)
                {
                    tree.Directories.Add(relative);
                    pending.Push(subdir);
                }
                else if (entry is FileInfo file)
                {
                    tree.Files.Add(new CacheSourceFile(relative, file.Length, file.UnixFileMode));
                }
            }
        }

        tree.Directories.Sort(StringComparer.Ordinal);
        return tree;
    }

    public SafeFileHandle Open(string path) => File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);

    public int Read(SafeFileHandle handle, Span<byte> buffer, long offset) => RandomAccess.Read(handle, buffer, offset);
}
