namespace Eas.Node.Gateway.Routing;

/// <summary>
/// The tokens an endpoint accepts: SHA-256 hashes of invocation tokens (a service has one; a group accepts any of its
/// members'), or none at all when the endpoint takes requests without a token.
/// </summary>
internal sealed class TokenSet
{
    public static readonly TokenSet Open = new([]);

    public TokenSet(byte[][] sha256s)
    {
        Sha256s = sha256s;
    }

    /// <summary>The accepted hashes; empty means no token is needed.</summary>
    public byte[][] Sha256s { get; }

    public bool IsOpen => Sha256s.Length == 0;

    /// <summary>
    /// The last token that matched: callers repeat the same token, and a constant-time comparison with it spares
    /// hashing on every request. A new table (new tokens) starts without one.
    /// </summary>
    public string? Accepted { get; set; }

    public static TokenSet For(byte[] sha256) => sha256.Length == 0 ? new TokenSet([]) : new TokenSet([sha256]);
}
