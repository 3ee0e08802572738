using Microsoft.AspNetCore.Http.Features;

namespace Eas.Node.Gateway.Proxy;

/// <summary>
/// Counts the payload of a chunked request body and fails the read that goes past the limit with a 413
/// <see cref="BadHttpRequestException"/>, which YARP turns into a 413 answer. Kestrel's own limit cannot do this
/// exactly for chunked bodies: it counts the chunk framing too, so a body just under the limit would be refused.
/// </summary>
internal sealed class LimitedRequestStream(Stream inner, long limit) : Stream
{
    private long _read;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <summary>Puts the limit on <paramref name="context"/>'s chunked body in place of Kestrel's.</summary>
    public static void Apply(HttpContext context, long limit)
    {
        var sizeFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is null || sizeFeature.IsReadOnly)
        {
            return;
        }

        sizeFeature.MaxRequestBodySize = null;
        context.Request.Body = new LimitedRequestStream(context.Request.Body, limit);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await inner.ReadAsync(buffer, cancellationToken));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

    public override int Read(Span<byte> buffer) => Count(inner.Read(buffer));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private int Count(int read)
    {
        _read += read;
        if (_read > limit)
        {
            throw new BadHttpRequestException($"Request body too large. The max request body size is {limit} bytes.", StatusCodes.Status413PayloadTooLarge);
        }

        return read;
    }
}
