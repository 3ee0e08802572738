namespace Eas.Node.Gateway.Records;

/// <summary>
/// Keeps the first <c>limit</c> bytes of a body that streams past, and counts the rest.
/// </summary>
/// <remarks>
/// The buffer is an ordinary array, not one rented from a pool: the record that ends up holding these bytes is read
/// later on a sink's writer thread, and a stream may still be written after the call is finished (a request body that
/// YARP stops reading), so handing a pooled array back at any point would risk handing out memory still being written
/// or read. The array starts at the declared Content-Length (when there is one, up to the limit) or at the size of the
/// first write, and doubles (at least to 256 bytes) up to the limit: a short body costs a short array (a model's "ok"
/// two bytes) and an empty one costs none.
/// </remarks>
internal sealed class BodyCapture(int limit, long? declaredLength)
{
    private const int GrowSize = 256;

    private byte[]? _buffer;
    private int _count;
    private long _seen;

    /// <summary>Every byte that streamed past, kept or not.</summary>
    public long Seen => Volatile.Read(ref _seen);

    public void Append(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        _seen += data.Length;
        var take = Math.Min(limit - _count, data.Length);
        if (take <= 0)
        {
            return;
        }

        var buffer = _buffer;
        if (buffer is null || buffer.Length - _count < take)
        {
            buffer = Grow(_count + take);
        }

        data[..take].CopyTo(buffer.AsSpan(_count));
        _count += take;
    }

    /// <summary>The bytes kept so far and whether more went past. Safe to call while the stream is still written.</summary>
    public CallRecordMessage ToMessage(IReadOnlyList<KeyValuePair<string, string>> headers)
    {
        var buffer = _buffer;
        var count = buffer is null ? 0 : Math.Min(Volatile.Read(ref _count), buffer.Length);
        return new CallRecordMessage
        {
            Headers = headers,
            Body = buffer is null ? ReadOnlyMemory<byte>.Empty : buffer.AsMemory(0, count),
            BodyTruncated = Seen > count,
        };
    }

    private byte[] Grow(int needed)
    {
        int size;
        if (_buffer is null && declaredLength is > 0 && declaredLength.Value >= needed)
        {
            size = (int)Math.Min(limit, declaredLength.Value);
        }
        else if (_buffer is null)
        {
            size = needed;
        }
        else
        {
            size = Math.Min(Math.Max(needed, Math.Max(GrowSize, _buffer.Length * 2)), limit);
        }

        var grown = new byte[size];
        _buffer?.AsSpan(0, _count).CopyTo(grown);
        _buffer = grown;
        return grown;
    }
}
