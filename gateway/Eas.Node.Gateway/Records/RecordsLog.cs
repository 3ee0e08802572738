namespace Eas.Node.Gateway.Records;

/// <summary>Log events of call records (event ids 4090–4099). Each problem is logged once until the sink recovers.</summary>
internal static partial class RecordsLog
{
    [LoggerMessage(EventId = 4090, Level = LogLevel.Warning, Message = "Call records of service {Service}: writing {Path} failed; records are dropped (counted in eas_gateway_records_dropped_total) until it works again")]
    public static partial void FileFailed(ILogger logger, string service, string path, Exception exception);

    [LoggerMessage(EventId = 4091, Level = LogLevel.Information, Message = "Call records of service {Service}: writing {Path} works again")]
    public static partial void FileRecovered(ILogger logger, string service, string path);

    [LoggerMessage(EventId = 4092, Level = LogLevel.Warning, Message = "Call records to OTLP endpoint {Endpoint} failed ({Records} records dropped, counted in eas_gateway_records_dropped_total); further failures are not logged until an export succeeds")]
    public static partial void OtlpFailed(ILogger logger, string endpoint, int records);

    [LoggerMessage(EventId = 4093, Level = LogLevel.Information, Message = "Call records to OTLP endpoint {Endpoint} are accepted again")]
    public static partial void OtlpRecovered(ILogger logger, string endpoint);

    [LoggerMessage(EventId = 4094, Level = LogLevel.Warning, Message = "Call records of service {Service} are dropped: {Reason}")]
    public static partial void Unusable(ILogger logger, string service, string reason);

    [LoggerMessage(EventId = 4095, Level = LogLevel.Warning, Message = "Call records of service {Service} to {Sink}: the queue of {Capacity} records is full; records are dropped (counted in eas_gateway_records_dropped_total)")]
    public static partial void QueueFull(ILogger logger, string service, string sink, int capacity);

    [LoggerMessage(EventId = 4096, Level = LogLevel.Warning, Message = "Call records to OTLP endpoint {Endpoint} cannot be sent: the exporter could not be set up")]
    public static partial void OtlpSetupFailed(ILogger logger, string endpoint, Exception exception);

    [LoggerMessage(EventId = 4097, Level = LogLevel.Error, Message = "Call-record writer for {Sink} failed; its queued and future records are dropped")]
    public static partial void WriterFailed(ILogger logger, string sink, Exception exception);
}
