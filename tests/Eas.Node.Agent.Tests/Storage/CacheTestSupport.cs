using Eas.Node.Agent.Storage;
using Microsoft.Win32.SafeHandles;

namespace Eas.Node.Agent.Tests.Storage;

/// <summary>The real source file system, counting what the cache does with it; optionally slowed or held per read.</summary>
internal sealed class CountingSourceFiles : ICacheSourceFiles
{
    private int _walks;
    private int _opens;
    private long _bytesRead;
    private int _inFlight;
    private int _maxInFlight;

    /// <summary>Runs before every read (to hold it, slow it, or move a fake clock).</summary>
    public Action? BeforeRead { get; set; }

    public int Walks => Volatile.Read(ref _walks);

    public int Opens => Volatile.Read(ref _opens);

    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>The most reads that were running at the same time.</summary>
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    public void Reset()
    {
        _walks = 0;
        _opens = 0;
        _bytesRead = 0;
        _maxInFlight = 0;
    }

    public CacheSourceVersion? Stat(string path) => CacheSourceFiles.Instance.Stat(path);

    public CacheTree Walk(string root)
    {
        Interlocked.Increment(ref _walks);
        return CacheSourceFiles.Instance.Walk(root);
    }

    public SafeFileHandle Open(string path)
    {
        Interlocked.Increment(ref _opens);
        return CacheSourceFiles.Instance.Open(path);
    }

    public int Read(SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        var now = Interlocked.Increment(ref _inFlight);
        int max;
        while (now > (max = Volatile.Read(ref _maxInFlight)) && Interlocked.CompareExchange(ref _maxInFlight, now, max) != max)
        {
        }

        try
        {
            BeforeRead?.Invoke();
            var read = CacheSourceFiles.Instance.Read(handle, buffer, offset);
            Interlocked.Add(ref _bytesRead, read);
            return read;
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }
}

/// <summary>Helpers for cache tests: random files and tree comparison.</summary>
internal static class CacheTestFiles
{
    public static void Write(string path, int bytes)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var data = new byte[bytes];
        System.Security.Cryptography.RandomNumberGenerator.Fill(data);
        File.WriteAllBytes(path, data);
    }

    /// <summary>Relative path → content hash of every regular file under <paramref name="root"/> (links not followed).</summary>
    public static Dictionary<string, string> Hashes(string root) => Directory
        .EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint })
        .ToDictionary(f => Path.GetRelativePath(root, f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))), StringComparer.Ordinal);
}
