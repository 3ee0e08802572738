using System.Buffers;
using System.Diagnostics;

namespace Eas.Node.Gateway.Records;

/// <summary>
/// One service's record file: JSON Lines at <c>&lt;directory&gt;/&lt;service&gt;.jsonl</c>, rotated to <c>.1</c> (newest)
/// … <c>.MaxFiles</c> before it would pass <c>MaxFileBytes</c>.
/// </summary>
/// <remarks>
/// Records are taken from the queue in batches (<see cref="RecordSink.GatherTime"/>), and their lines written with one
/// write call per batch, at 64 KiB, and at least once a second during a long burst; no fsync (a crash of the machine may
/// lose the last second). Before each write the file is looked up again, so a file or directory removed under the
/// gateway is created anew instead of swallowing records into an unlinked file. A failed write (disk full, no
/// permission) drops that write's records, counts them and logs once until a write works again. The file is closed
/// after 30 s without records.
/// </remarks>
internal sealed class FileRecordSink : RecordSink
{
    private const int WriteChunk = 64 * 1024;
    private const int KeptBufferBytes = 1024 * 1024;
    private static readonly TimeSpan _flushInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan _idleClose = TimeSpan.FromSeconds(30);

    private readonly string _service;
    private readonly string _directory;
    private readonly string _path;
    private readonly long _maxFileBytes;
    private readonly int _maxFiles;
    private ArrayBufferWriter<byte> _pending = new(WriteChunk * 2);
    private ArrayBufferWriter<byte> _line = new(4096);
    private int _pendingRecords;
    private FileStream? _file;
    private long _fileSize;
    private bool _failing;

    public FileRecordSink(string service, string directory, CallRecordOptions options, RecordMetrics metrics, ILogger logger)
        : base(options, metrics, logger, SinkerSettings.File, Path.Combine(directory, service + ".jsonl"))
    {
        _service = service;
        _directory = directory;
        _path = Target;
        _maxFileBytes = options.MaxFileBytes;
        _maxFiles = options.MaxFiles;
    }

    protected override void Run()
    {
        try
        {
            var lastWrite = Stopwatch.GetTimestamp();
            while (true)
            {
                var queued = WaitForRecords(_file is null ? Timeout.InfiniteTimeSpan : _idleClose);
                if (queued == Queued.Closed)
                {
                    break;
                }

                if (queued == Queued.Idle)
                {
                    CloseFile();
                    continue;
                }

                while (Reader.TryRead(out var record))
                {
                    Add(record);
                    if (_pending.WrittenCount >= WriteChunk || Stopwatch.GetElapsedTime(lastWrite) >= _flushInterval)
                    {
                        WritePending();
                        lastWrite = Stopwatch.GetTimestamp();
                    }
                }

                WritePending();
                lastWrite = Stopwatch.GetTimestamp();
            }
        }
        finally
        {
            WritePending();
            CloseFile();
        }
    }

    private void Add(CallRecord record)
    {
        _line.ResetWrittenCount();
        try
        {
            CallRecordJson.WriteLine(record, _line);
        }
        catch (Exception)
        {
            Metrics.Dropped(_service, SinkName);
            return;
        }

        if (_file is null && !_failing)
        {
            TryOpen();
        }

        var before = _fileSize + _pending.WrittenCount;
        if (before > 0 && before + _line.WrittenCount > _maxFileBytes)
        {
            WritePending();
            Rotate();
        }

        _pending.Write(_line.WrittenSpan);
        _pendingRecords++;
        if (_line.Capacity > KeptBufferBytes)
        {
            _line = new ArrayBufferWriter<byte>(4096);
        }
    }

    private void WritePending()
    {
        if (_pendingRecords == 0)
        {
            return;
        }

        try
        {
            Open();
            _file!.Write(_pending.WrittenSpan);
            _fileSize += _pending.WrittenCount;
            Metrics.Written(_service, SinkName, _pendingRecords);
            if (_failing)
            {
                _failing = false;
                RecordsLog.FileRecovered(Logger, _service, _path);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or System.Security.SecurityException)
        {
            Metrics.Dropped(_service, SinkName, _pendingRecords);
            if (!_failing)
            {
                _failing = true;
                RecordsLog.FileFailed(Logger, _service, _path, e);
            }

            CloseFile();
        }
        finally
        {
            _pendingRecords = 0;
            _pending.ResetWrittenCount();
            if (_pending.Capacity > KeptBufferBytes)
            {
                _pending = new ArrayBufferWriter<byte>(WriteChunk * 2);
            }
        }
    }

    private void TryOpen()
    {
        try
        {
            Open();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or System.Security.SecurityException)
        {
            // WritePending tries again, counts and logs.
            CloseFile();
        }
    }

    /// <summary>Makes sure <see cref="_file"/> is open on the file now at <see cref="_path"/>.</summary>
    private void Open()
    {
        if (_file is not null)
        {
            if (File.Exists(_path))
            {
                return;
            }

            // Removed (or its directory was) while the gateway held it open: start a new file.
            CloseFile();
        }

        Directory.CreateDirectory(_directory);
        var file = new FileStream(_path, new FileStreamOptions
        {
            Mode = FileMode.Append,
            Access = FileAccess.Write,
            Share = FileShare.ReadWrite | FileShare.Delete,
            BufferSize = 0,
        });
        try
        {
            _fileSize = file.CanSeek ? file.Length : 0;
            if (_fileSize > 0 && !EndsWithNewline())
            {
                // A write that failed half-way (disk full) left a partial line: end it so the next record is whole.
                file.Write("\n"u8);
                _fileSize++;
            }
        }
        catch
        {
            file.Dispose();
            throw;
        }

        _file = file;
    }

    private bool EndsWithNewline()
    {
        using var handle = File.OpenHandle(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        Span<byte> last = stackalloc byte[1];
        return RandomAccess.Read(handle, last, _fileSize - 1) == 1 && last[0] == (byte)'\n';
    }

    private void Rotate()
    {
        CloseFile();
        try
        {
            for (var i = _maxFiles - 1; i >= 1; i--)
            {
                var from = $"{_path}.{i}";
                if (File.Exists(from))
                {
                    File.Move(from, $"{_path}.{i + 1}", overwrite: true);
                }
            }

            if (File.Exists(_path))
            {
                File.Move(_path, _path + ".1", overwrite: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The next write appends to whatever is there; if that fails too, it is counted and logged.
        }

        _fileSize = 0;
    }

    private void CloseFile()
    {
        var file = _file;
        _file = null;
        _fileSize = 0;
        try
        {
            file?.Dispose();
        }
        catch (IOException)
        {
        }
    }
}
