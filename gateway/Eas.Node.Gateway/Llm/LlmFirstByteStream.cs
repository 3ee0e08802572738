namespace Eas.Node.Gateway.Llm;

/// <summary>
/// Passes a response body through and calls <see cref="LlmLease.FirstByte"/> at its first non-empty write: for a
/// streamed completion that is the first SSE chunk, i.e. the end of the prefill (response headers come earlier, as soon
/// as the engine accepts the request). Install it with <see cref="Watch"/> before forwarding.
/// </summary>
public sealed class LlmFirstByteStream : Stream
{
    private readonly Stream _inner;
    private LlmLease? _lease;

    private LlmFirstByteStream(Stream inner, LlmLease lease)
    {
        _inner = inner;
        _lease = lease;
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>Wraps <paramref name="response"/>'s body so that its first byte reports to <paramref name="lease"/>.</summary>
    public static void Watch(HttpResponse response, LlmLease lease)
    {
        ArgumentNullException.ThrowIfNull(response);
        ArgumentNullException.ThrowIfNull(lease);
        response.Body = new LlmFirstByteStream(response.Body, lease);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Seen(buffer.Length);
        return _inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Seen(count);
        return _inner.WriteAsync(buffer, offset, count, cancellationToken);
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Seen(buffer.Length);
        _inner.Write(buffer);
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        Seen(count);
        _inner.Write(buffer, offset, count);
    }

    public override void WriteByte(byte value)
    {
        Seen(1);
        _inner.WriteByte(value);
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    public override void Flush() => _inner.Flush();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private void Seen(int count)
    {
        if (count > 0 && _lease is { } lease)
        {
            _lease = null;
            lease.FirstByte();
        }
    }
}
