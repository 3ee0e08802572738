using System.Buffers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Eas.Node.Gateway.Routing;
using Microsoft.Extensions.Primitives;

namespace Eas.Node.Gateway.Proxy;

/// <summary>
/// EAS invocation auth: the caller sends <c>Authorization: &lt;token&gt;</c> (EAS style) or
/// <c>Authorization: Bearer &lt;token&gt;</c>; the gateway knows only SHA-256 of the token and compares in constant time.
/// </summary>
internal static class TokenCheck
{
    private const string BearerPrefix = "Bearer ";
    private const int StackLimit = 256;

    public static bool IsAuthorized(StringValues authorization, ServiceEntry service) => IsAuthorized(authorization, service.Tokens);

    /// <summary>
    /// True when <paramref name="tokens"/> needs no token or the caller's token hashes to one of its hashes (a group
    /// accepts any member's token).
    /// </summary>
    public static bool IsAuthorized(StringValues authorization, TokenSet tokens)
    {
        var expected = tokens.Sha256s;
        if (expected.Length == 0)
        {
            return true;
        }

        if (authorization.Count != 1)
        {
            return false;
        }

        var token = authorization[0].AsSpan().Trim();
        if (token.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
        {
            token = token[BearerPrefix.Length..].TrimStart();
        }

        if (token.IsEmpty)
        {
            return false;
        }

        var accepted = tokens.Accepted;
        if (accepted is not null
            && CryptographicOperations.FixedTimeEquals(MemoryMarshal.AsBytes(accepted.AsSpan()), MemoryMarshal.AsBytes(token)))
        {
            return true;
        }

        if (!HashMatches(token, expected))
        {
            return false;
        }

        tokens.Accepted = token.ToString();
        return true;
    }

    private static bool HashMatches(ReadOnlySpan<char> token, byte[][] expected)
    {
        var maxBytes = Encoding.UTF8.GetMaxByteCount(token.Length);
        byte[]? rented = null;
        var utf8 = maxBytes <= StackLimit ? stackalloc byte[StackLimit] : (rented = ArrayPool<byte>.Shared.Rent(maxBytes));
        try
        {
            var length = Encoding.UTF8.GetBytes(token, utf8);
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(utf8[..length], hash);
            var match = false;
            foreach (var candidate in expected)
            {
                // Every candidate is compared, so the time taken does not tell which one matched.
                match |= CryptographicOperations.FixedTimeEquals(hash, candidate);
            }

            return match;
        }
        finally
        {
            // The token is a secret; don't leave it in a pooled buffer.
            if (rented is not null)
            {
                CryptographicOperations.ZeroMemory(rented);
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}
