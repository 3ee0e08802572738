using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace Eas.Node.Gateway.Records;

/// <summary>
/// The response body feature while a call is recorded: every write and every flush goes straight to the server's own
/// feature (so a streamed response, SSE or gRPC, still reaches the caller chunk by chunk), and the first bytes are
/// copied aside for the call record. Nothing is buffered here.
/// </summary>
/// <remarks>
/// It is both the feature and its stream, one object per recorded call. <see cref="Writer"/> is a pipe over this stream
/// (created only if someone asks for it), flushed to the server whenever it is flushed; YARP itself writes through
/// <see cref="HttpResponse.Body"/>.
/// </remarks>
internal sealed class ResponseBodyTee(IHttpResponseBodyFeature prior, BodyCapture capture) : Stream, IHttpResponseBodyFeature
{
    private PipeWriter? _writer;

    public BodyCapture Capture => capture;

    public IHttpResponseBodyFeature Prior => prior;

    Stream IHttpResponseBodyFeature.Stream => this;

    public PipeWriter Writer => _writer ??= PipeWriter.Create(this, new StreamPipeWriterOptions(leaveOpen: true));

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public void DisableBuffering() => prior.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => prior.StartAsync(cancellationToken);

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default) =>
        SendFileFallback.SendFileAsync(this, path, offset, count, cancellationToken);

    public async Task CompleteAsync()
    {
        if (_writer is not null)
        {
            await _writer.FlushAsync();
        }

        await prior.CompleteAsync();
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        capture.Append(buffer);
        prior.Stream.Write(buffer);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        capture.Append(buffer.Span);
        return prior.Stream.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => prior.Stream.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => prior.Stream.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
