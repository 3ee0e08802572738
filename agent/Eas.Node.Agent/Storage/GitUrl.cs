using System.Text.RegularExpressions;

namespace Eas.Node.Agent.Storage;

/// <summary>
/// A git repository URL taken apart for cloning: the URL without credentials (what git sees in argv and stores
/// in <c>.git/config</c>) and any <c>user:password@</c> it carried; plus redaction of credentials from git's output.
/// </summary>
/// <param name="Url">The URL without user info.</param>
/// <param name="Scheme">The scheme, lower case ("https", "http", "file"), or "ssh" for scp-like <c>user@host:path</c>, or "" when there is none.</param>
/// <param name="Username">The user name the URL carried, unescaped; null when none.</param>
/// <param name="Password">The password the URL carried, unescaped; null when none.</param>
public sealed partial record GitUrl(string Url, string Scheme, string? Username, string? Password)
{
    /// <summary>Takes <paramref name="repo"/> apart; never throws.</summary>
    public static GitUrl Parse(string repo)
    {
        var text = repo.Trim();
        var match = SchemeRegex().Match(text);
        if (!match.Success)
        {
            // scp-like "git@host:group/project.git" is ssh; anything else has no scheme (a local path).
            return new GitUrl(text, ScpLikeRegex().IsMatch(text) ? "ssh" : "", null, null);
        }

        var scheme = match.Groups[1].Value.ToLowerInvariant();
        var authorityStart = match.Length;
        var authorityEnd = text.IndexOfAny(['/', '?', '#'], authorityStart);
        var authority = authorityEnd < 0 ? text[authorityStart..] : text[authorityStart..authorityEnd];
        var at = authority.LastIndexOf('@');
        if (at < 0)
        {
            return new GitUrl(text, scheme, null, null);
        }

        var userInfo = authority[..at];
        var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
        var user = colon < 0 ? userInfo : userInfo[..colon];
        var password = colon < 0 ? null : userInfo[(colon + 1)..];
        return new GitUrl(
            text[..authorityStart] + text[(authorityStart + at + 1)..],
            scheme,
            user.Length == 0 ? null : Uri.UnescapeDataString(user),
            password is null or "" ? null : Uri.UnescapeDataString(password));
    }

    /// <summary>
    /// <paramref name="text"/> with the user info of every URL in it removed and every occurrence of the
    /// secrets (as given and URL-escaped) replaced by <c>***</c>.
    /// </summary>
    public static string Redact(string text, params string?[] secrets)
    {
        var redacted = UserInfoRegex().Replace(text, "$1");
        foreach (var secret in secrets)
        {
            if (!string.IsNullOrEmpty(secret))
            {
                redacted = redacted.Replace(secret, "***", StringComparison.Ordinal);
                var escaped = Uri.EscapeDataString(secret);
                if (escaped != secret)
                {
                    redacted = redacted.Replace(escaped, "***", StringComparison.OrdinalIgnoreCase);
                }
            }
        }

        return redacted;
    }

    [GeneratedRegex("^([A-Za-z][A-Za-z0-9+.-]*)://")]
    private static partial Regex SchemeRegex();

    [GeneratedRegex("^[^/:]+@[^/:]+:")]
    private static partial Regex ScpLikeRegex();

    // "scheme://" followed by user info up to the last '@' before the end of the authority (greedy: a
    // password with an unescaped '@' goes too).
    [GeneratedRegex("([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\\s'\"]*@")]
    private static partial Regex UserInfoRegex();
}
