using System.Security.Cryptography;

namespace Eas.Node.Coordinator.Api;

/// <summary>Invocation tokens for services that do not bring their own.</summary>
public static class ServiceTokens
{
    /// <summary>32 random bytes, base64url without padding (43 characters).</summary>
    public static string Generate() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))
        .TrimEnd('=')
        .Replace('+', '-')
        .Replace('/', '_');
}
