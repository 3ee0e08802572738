namespace Eas.Node.Gateway.Records;

/// <summary>
/// One call through the gateway as a sink keeps it (EAS <c>sinker</c>; the file format is in docs/traffic.md). Built by
/// <see cref="CallCapture.Finish"/> at the end of a call and handed to <see cref="CallRecorder.TryWrite"/>.
/// </summary>
/// <remarks>
/// Headers never carry credentials: whatever a record holds, the sinks write no header that
/// <see cref="CallRecordHeaders.IsRecorded"/> refuses (<c>Authorization</c>, <c>Proxy-Authorization</c> and any other
/// header whose name contains "authorization"). Bodies are the caller's and the service's data and are kept as they are,
/// up to the configured size.
/// </remarks>
public sealed class CallRecord
{
    /// <summary>When the request arrived (UTC).</summary>
    public DateTimeOffset Time { get; init; }

    /// <summary>The service that served the call.</summary>
    public string Service { get; init; } = "";

    /// <summary>The service's group (<c>metadata.group</c>), empty when none.</summary>
    public string Group { get; init; } = "";

    /// <summary>The instance that served the call, empty when the gateway answered itself.</summary>
    public string Instance { get; init; } = "";

    /// <summary>The node of that instance, empty when the gateway answered itself.</summary>
    public string Node { get; init; } = "";

    /// <summary>The HTTP method.</summary>
    public string Method { get; init; } = "";

    /// <summary>The request path as the caller sent it (<c>/api/predict/...</c>).</summary>
    public string Path { get; init; } = "";

    /// <summary>The query string without its leading <c>?</c>, empty when none.</summary>
    public string Query { get; init; } = "";

    /// <summary>The status code the caller got (499 when the caller went away first).</summary>
    public int Status { get; init; }

    /// <summary>Milliseconds from the request's arrival to the end of its response.</summary>
    public double LatencyMs { get; init; }

    /// <summary>The W3C trace id (32 lower-case hex digits), empty when the call carried none.</summary>
    public string TraceId { get; init; } = "";

    /// <summary>The W3C span id (16 hex digits) the call belongs to, empty when unknown.</summary>
    public string SpanId { get; init; } = "";

    /// <summary>The caller's IP address.</summary>
    public string Client { get; init; } = "";

    /// <summary>What the caller sent.</summary>
    public CallRecordMessage Request { get; init; } = CallRecordMessage.Empty;

    /// <summary>What the caller got back.</summary>
    public CallRecordMessage Response { get; init; } = CallRecordMessage.Empty;
}

/// <summary>The headers and the first bytes of the body of a request or a response.</summary>
public sealed class CallRecordMessage
{
    /// <summary>No headers and no body.</summary>
    public static readonly CallRecordMessage Empty = new();

    /// <summary>Header names in lower case with their values (several values joined by ", ").</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    /// <summary>The body up to the configured size.</summary>
    public ReadOnlyMemory<byte> Body { get; init; }

    /// <summary>True when the body was longer than <see cref="Body"/>.</summary>
    public bool BodyTruncated { get; init; }
}
