using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace Eas.Node.Gateway.Proxy;

/// <summary>
/// HTTP/1.1 and HTTP/2 on one cleartext listener. Kestrel (through .NET 10) picks HTTP/2 on an endpoint that also
/// speaks HTTP/1.1 only by ALPN, which needs TLS, so on plain http it always speaks HTTP/1.1 and answers gRPC clients
/// (HTTP/2 with prior knowledge) with HTTP_1_1_REQUIRED (dotnet/aspnetcore#56984). This connection middleware looks
/// at the first bytes of each new connection without consuming them: the HTTP/2 connection preface (RFC 9113 §3.4)
/// marks the connection the way a TLS handshake that negotiated "h2" would (a TLS connection feature without a
/// certificate and the ALPN result), so Kestrel serves it as HTTP/2; anything else stays HTTP/1.1 untouched. The
/// request scheme stays the caller's <c>:scheme</c> (<c>http</c>) through <c>AllowAlternateSchemes</c>. It runs once
/// per connection, never per request.
/// </summary>
internal static class H2cPriorKnowledge
{
    /// <summary>How long a new connection may take to send its first bytes.</summary>
    private static readonly TimeSpan _prefaceTimeout = TimeSpan.FromSeconds(30);

    private static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    /// <summary>Serves HTTP/1.1 and prior-knowledge HTTP/2 on <paramref name="listen"/>.</summary>
    public static void Enable(ListenOptions listen)
    {
        listen.Protocols = HttpProtocols.Http1AndHttp2;
        listen.Use(next => async connection =>
        {
            if (connection.Features.Get<ITlsConnectionFeature>() is null
                && await StartsWithPrefaceAsync(connection.Transport.Input, connection.ConnectionClosed))
            {
                connection.Features.Set<ITlsConnectionFeature>(Http2Selected.Instance);
                connection.Features.Set<ITlsApplicationProtocolFeature>(Http2Selected.Instance);
            }

            await next(connection);
        });
    }

    /// <summary>Peeks until the bytes read so far either differ from the preface or hold all of it; consumes nothing.</summary>
    internal static async ValueTask<bool> StartsWithPrefaceAsync(PipeReader input, CancellationToken closed)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(closed);
        timeout.CancelAfter(_prefaceTimeout);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                // Let Kestrel's HTTP/1.1 handling (and its own timeouts) deal with a silent or closed connection.
                return false;
            }

            var buffer = result.Buffer;
            var length = (int)Math.Min(buffer.Length, Preface.Length);
            var matches = PrefixMatches(buffer.Slice(0, length));
            if (!matches || length == Preface.Length || result.IsCompleted || result.IsCanceled)
            {
                // Nothing consumed or examined: the next reader sees the same bytes at once.
                input.AdvanceTo(buffer.Start);
                return matches && length == Preface.Length;
            }

            // A prefix of the preface so far: wait for more bytes.
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static bool PrefixMatches(ReadOnlySequence<byte> head)
    {
        Span<byte> bytes = stackalloc byte[24];
        head.CopyTo(bytes);
        return bytes[..(int)head.Length].SequenceEqual(Preface[..(int)head.Length]);
    }

    /// <summary>What a TLS handshake that negotiated "h2" would leave on the connection, minus the TLS: no certificate.</summary>
    private sealed class Http2Selected : ITlsApplicationProtocolFeature, ITlsConnectionFeature
    {
        public static readonly Http2Selected Instance = new();

        public ReadOnlyMemory<byte> ApplicationProtocol { get; } = "h2"u8.ToArray();

        public X509Certificate2? ClientCertificate
        {
            get => null;
            set { }
        }

        public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult<X509Certificate2?>(null);
    }
}
