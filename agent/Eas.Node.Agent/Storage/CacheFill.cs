using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace Eas.Node.Agent.Storage;

/// <summary>
/// Copies a walked source tree into an entry's data directory with N reader threads. Files are cut into
/// ranges (a big file into up to 4 ranges per reader, 8-64 MiB each) so that one large file is read at N
/// offsets at once (through s3fs: N parallel range GETs); each range is copied with pread/pwrite at its
/// offset. Copied files lose their write bits.
/// </summary>
internal static class CacheFill
{
    /// <summary>The read size within a range.</summary>
    public const int BufferSize = 1 << 20;

    private const long MiB = 1 << 20;
    private const long MinChunk = 8 * MiB;
    private const long MaxChunk = 64 * MiB;

    /// <summary>The range size for a file of <paramref name="size"/> bytes with <paramref name="parallelism"/> readers.</summary>
    public static long ChunkSize(long size, int parallelism, long fixedChunk = 0)
    {
        if (fixedChunk > 0)
        {
            return fixedChunk;
        }

        var perRange = (size + (parallelism * 4L) - 1) / (parallelism * 4L);
        var rounded = (perRange + MiB - 1) / MiB * MiB;
        return Math.Clamp(rounded, MinChunk, MaxChunk);
    }

    /// <summary>Copies <paramref name="tree"/> from <paramref name="sourceRoot"/> into <paramref name="dataDir"/> (which exists and is empty).</summary>
    /// <exception cref="IOException">A source or destination file failed; the message names it.</exception>
    public static async Task CopyAsync(
        ICacheSourceFiles files,
        string sourceRoot,
        bool sourceIsFile,
        CacheTree tree,
        string dataDir,
        int parallelism,
        long fixedChunk,
        CacheProgress progress,
        CancellationToken cancellationToken)
    {
        foreach (var dir in tree.Directories)
        {
            Directory.CreateDirectory(Path.Combine(dataDir, dir));
        }

        foreach (var (relative, target) in tree.Links)
        {
            File.CreateSymbolicLink(Path.Combine(dataDir, relative), target);
        }

        var states = new List<FileState>();
        var chunks = new List<(FileState File, long Offset, long Length)>();
        foreach (var file in tree.Files.OrderByDescending(f => f.Size).ThenBy(f => f.RelativePath, StringComparer.Ordinal))
        {
            var state = new FileState(file, sourceIsFile ? sourceRoot : Path.Combine(sourceRoot, file.RelativePath), Path.Combine(dataDir, file.RelativePath));
            states.Add(state);
            if (file.Size == 0)
            {
                File.WriteAllBytes(state.Destination, []);
                File.SetUnixFileMode(state.Destination, ReadOnly(file.Mode));
                continue;
            }

            var chunk = ChunkSize(file.Size, parallelism, fixedChunk);
            for (long offset = 0; offset < file.Size; offset += chunk)
            {
                chunks.Add((state, offset, Math.Min(chunk, file.Size - offset)));
                state.ChunksLeft++;
            }
        }

        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var next = -1;
        Exception? firstError = null;
        void Work()
        {
            var buffer = new byte[BufferSize];
            try
            {
                int index;
                while (!failed.IsCancellationRequested && (index = Interlocked.Increment(ref next)) < chunks.Count)
                {
                    var (state, offset, length) = chunks[index];
                    CopyRange(files, state, offset, length, buffer, progress, failed.Token);
                    if (Interlocked.Decrement(ref state.ChunksLeft) == 0)
                    {
                        state.Close();
                        File.SetUnixFileMode(state.Destination, ReadOnly(state.File.Mode));
                    }
                }
            }
            catch (Exception ex)
            {
                Interlocked.CompareExchange(ref firstError, ex, null);
                failed.Cancel();
            }
        }

        var workers = Enumerable.Range(0, Math.Max(1, Math.Min(parallelism, chunks.Count)))
            .Select(_ => Task.Factory.StartNew(Work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default))
            .ToArray();
        await Task.WhenAll(workers);
        foreach (var state in states)
        {
            state.Close();
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (firstError is OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            throw firstError;
        }

        if (firstError is not null)
        {
            throw firstError is IOException or UnauthorizedAccessException
                ? new IOException(firstError.Message, firstError)
                : firstError;
        }
    }

    /// <summary>The mode a cached file gets: the source's without write bits, readable by its owner.</summary>
    public static UnixFileMode ReadOnly(UnixFileMode mode) =>
        (mode & ~(UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) | UnixFileMode.UserRead;

    private static void CopyRange(ICacheSourceFiles files, FileState state, long offset, long length, byte[] buffer, CacheProgress progress, CancellationToken cancellationToken)
    {
        var (source, destination) = state.Open(files);
        var end = offset + length;
        while (offset < end)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var want = (int)Math.Min(buffer.Length, end - offset);
            int read;
            try
            {
                read = files.Read(source, buffer.AsSpan(0, want), offset);
            }
            catch (IOException ex)
            {
                throw new IOException($"reading {state.Source} at byte {offset} failed: {ex.Message}", ex);
            }

            if (read == 0)
            {
                throw new IOException($"{state.Source} ended at byte {offset.ToString(CultureInfo.InvariantCulture)} but was {state.File.Size.ToString(CultureInfo.InvariantCulture)} bytes when the fill started (it changed during the fill)");
            }

            RandomAccess.Write(destination, buffer.AsSpan(0, read), offset);
            offset += read;
            progress.Add(read);
        }
    }

    /// <summary>One file being copied: its handles, opened by the first range and closed by the last.</summary>
    private sealed class FileState(CacheSourceFile file, string source, string destination)
    {
        private readonly Lock _gate = new();
        private SafeFileHandle? _source;
        private SafeFileHandle? _destination;

        public int ChunksLeft;

        public CacheSourceFile File { get; } = file;

        public string Source { get; } = source;

        public string Destination { get; } = destination;

        public (SafeFileHandle Source, SafeFileHandle Destination) Open(ICacheSourceFiles files)
        {
            lock (_gate)
            {
                try
                {
                    _source ??= files.Open(Source);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    throw new IOException($"opening {Source} failed: {ex.Message}", ex);
                }

                _destination ??= System.IO.File.OpenHandle(Destination, FileMode.CreateNew, FileAccess.Write, FileShare.Read, FileOptions.None, File.Size);
                return (_source, _destination);
            }
        }

        public void Close()
        {
            lock (_gate)
            {
                _source?.Dispose();
                _destination?.Dispose();
            }
        }
    }
}

/// <summary>
/// Reports a fill's progress: a first line, then at most one line per 2 s and only when another 10% is done
/// (or 30 s went by without one), so a long fill makes about ten lines.
/// </summary>
internal sealed class CacheProgress(string shown, long total, Action<string> report, TimeProvider time)
{
    private static readonly TimeSpan _minInterval = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan _maxInterval = TimeSpan.FromSeconds(30);
    private readonly Lock _gate = new();
    private readonly long _started = time.GetTimestamp();
    private long _done;
    private long _lastReport = time.GetTimestamp();
    private int _lastTenth;

    /// <summary>Bytes copied so far.</summary>
    public long Done => Interlocked.Read(ref _done);

    /// <summary>Time since the fill started.</summary>
    public TimeSpan Elapsed => time.GetElapsedTime(_started);

    /// <summary>The first line.</summary>
    public void Start(int files) => report(string.Create(CultureInfo.InvariantCulture, $"cache: filling {shown} 0% (0/{Mib(total)} MiB, {files} files)"));

    /// <summary>Counts <paramref name="bytes"/> more; reports when due.</summary>
    public void Add(long bytes)
    {
        var done = Interlocked.Add(ref _done, bytes);
        var now = time.GetTimestamp();
        var since = time.GetElapsedTime(Interlocked.Read(ref _lastReport), now);
        if (since < _minInterval)
        {
            return;
        }

        var percent = total > 0 ? (int)(done * 100 / total) : 100;
        lock (_gate)
        {
            since = time.GetElapsedTime(_lastReport, now);
            if (since < _minInterval || (percent / 10 <= _lastTenth && since < _maxInterval))
            {
                return;
            }

            _lastTenth = percent / 10;
            Interlocked.Exchange(ref _lastReport, now);
            var seconds = time.GetElapsedTime(_started, now).TotalSeconds;
            report(string.Create(CultureInfo.InvariantCulture, $"cache: filling {shown} {percent}% ({done >> 20}/{Mib(total)} MiB, {(long)(done / Math.Max(seconds, 0.001)) >> 20} MiB/s)"));
        }
    }

    /// <summary>Whole MiB, rounded up for a non-zero amount so that a small entry does not read "0 MiB".</summary>
    public static long Mib(long bytes) => bytes <= 0 ? 0 : (bytes + (1 << 20) - 1) >> 20;
}
