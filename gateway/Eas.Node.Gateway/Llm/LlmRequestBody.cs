using System.Buffers;

namespace Eas.Node.Gateway.Llm;

/// <summary>
/// A request body read into a pooled buffer so that LLM routing can parse it before forwarding. After
/// <see cref="BufferAsync"/> the request's <c>Body</c> reads the same bytes again (so YARP forwards them), and
/// <see cref="Rewind"/> rewinds it for a retry on another replica. Dispose only after the forward has finished.
/// </summary>
public sealed class LlmRequestBody : IDisposable
{
    private byte[]? _buffer;
    private readonly MemoryStream _stream;

    private LlmRequestBody(byte[] buffer, int length)
    {
        _buffer = buffer;
        Length = length;
        _stream = new MemoryStream(buffer, 0, length, writable: false);
    }

    public int Length { get; }

    /// <summary>The body's bytes (valid until <see cref="Dispose"/>).</summary>
    public ReadOnlyMemory<byte> Memory => _buffer is { } buffer ? buffer.AsMemory(0, Length) : ReadOnlyMemory<byte>.Empty;

    /// <summary>
    /// Reads <paramref name="request"/>'s body (at most <paramref name="maxBytes"/> bytes) and puts a replayable copy
    /// in its place. Returns null when the body is larger: answer 413. Errors of the body stream (a client that goes
    /// away, Kestrel's own size limit) propagate.
    /// </summary>
    public static async ValueTask<LlmRequestBody?> BufferAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 0);
        var declared = request.ContentLength;
        if (declared > maxBytes)
        {
            return null;
        }

        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(declared ?? 16 * 1024, 1, Math.Max(1, maxBytes) + 1L));
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > maxBytes)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        return null;
                    }

                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, maxBytes + 1L));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await request.Body.ReadAsync(buffer.AsMemory(length), cancellationToken);
                if (read == 0)
                {
                    break;
                }

                length += read;
                if (length > maxBytes)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    return null;
                }
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }

        var body = new LlmRequestBody(buffer, length);
        request.Body = body._stream;
        return body;
    }

    /// <summary>Rewinds the request's body to its start, for a retry.</summary>
    public void Rewind() => _stream.Position = 0;

    public void Dispose()
    {
        _stream.Dispose();
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
