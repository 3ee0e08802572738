using System.Globalization;

namespace Eas.Node.Gateway.Records;

/// <summary>
/// Settings of call records (configuration section <c>Gateway:Records</c>; the coordinator's embedded gateway takes
/// <see cref="Directory"/> from <c>Coordinator:RecordsDirectory</c>).
/// </summary>
public sealed class CallRecordOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string SectionName = "Gateway:Records";

    /// <summary>The largest <see cref="MaxBodyBytes"/> (and sinker <c>max_body_bytes</c>) accepted: 16 MiB.</summary>
    public const int MaxBodyBytesCeiling = 16 * 1024 * 1024;

    /// <summary>
    /// Where the file sink writes <c>&lt;service&gt;.jsonl</c> and its rotated files; created when missing (again, if
    /// it is removed while the gateway runs). Empty: records of services with a file sinker are dropped and counted.
    /// </summary>
    public string Directory { get; set; } = "";

    /// <summary>A record file is rotated before it would grow past this size (default 64 MiB).</summary>
    public long MaxFileBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Rotated files kept per service: <c>.1</c> (newest) to <c>.MaxFiles</c> (default 5).</summary>
    public int MaxFiles { get; set; } = 5;

    /// <summary>
    /// Request and response bodies are each kept up to this many bytes unless the service's sinker says otherwise
    /// (default 4096; 0 keeps no bodies).
    /// </summary>
    public int MaxBodyBytes { get; set; } = 4096;

    /// <summary>Records waiting per sink; past this, new records are dropped and counted (default 10000).</summary>
    public int QueueCapacity { get; set; } = 10_000;

    /// <summary>OTLP sink: records handed to the OpenTelemetry SDK and not yet exported, per endpoint.</summary>
    internal int OtlpSdkQueueSize { get; set; } = 2048;

    /// <summary>OTLP sink: the time one export (one HTTP POST) may take before it counts as failed.</summary>
    internal int OtlpExportTimeoutMilliseconds { get; set; } = 3000;

    /// <summary>
    /// How long an idle sink's writer sleeps before it looks at its queue again without being woken (the first record
    /// after a pause wakes it at once; this only bounds a wake-up that went astray).
    /// </summary>
    internal TimeSpan WriterIdleCheck { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Checks every option and returns one message per problem, each naming the key, the rule and the fix; an empty
    /// list means the options are usable.
    /// </summary>
    /// <param name="section">The configuration section the keys are reported under.</param>
    public IReadOnlyList<string> Validate(string section = SectionName)
    {
        var problems = new List<string>();
        if (!string.IsNullOrEmpty(Directory) && Directory.AsSpan().IndexOfAny(Path.GetInvalidPathChars()) >= 0)
        {
            problems.Add($"{section}:Directory '{Directory}' is not a valid path: it must be a directory path without control characters; fix: set for example \"/var/lib/eas/records\", or \"\" to keep no record files.");
        }

        if (MaxFileBytes < 1024)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"{section}:MaxFileBytes {MaxFileBytes} is too small: a record file must be allowed at least 1024 bytes before it is rotated; fix: set for example 67108864 (64 MiB)."));
        }

        if (MaxFiles is < 1 or > 1000)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"{section}:MaxFiles {MaxFiles} is out of range: it must be from 1 to 1000 rotated files per service; fix: set for example 5."));
        }

        if (MaxBodyBytes is < 0 or > MaxBodyBytesCeiling)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"{section}:MaxBodyBytes {MaxBodyBytes} is out of range: it must be from 0 (no bodies) to {MaxBodyBytesCeiling} bytes; fix: set for example 4096."));
        }

        if (QueueCapacity is < 1 or > 1_000_000)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"{section}:QueueCapacity {QueueCapacity} is out of range: it must be from 1 to 1000000 records waiting per sink; fix: set for example 10000."));
        }

        return problems;
    }
}
