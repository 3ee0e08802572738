using System.Globalization;
using System.Text.RegularExpressions;

namespace Eas.Node.Agent.Storage;

/// <summary>The pure parts of an oss mount: the endpoint as a URL, s3fs's source and options, and s3fs's error text.</summary>
public static partial class OssMountOptions
{
    /// <summary>
    /// <paramref name="endpoint"/> as the URL s3fs is given: "host[:port]" becomes https://host[:port]; an http(s)
    /// URL keeps its scheme, host and port. Null when it is neither (a path, query, user name or other scheme).
    /// </summary>
    public static string? EndpointUrl(string endpoint)
    {
        var text = endpoint.Trim();
        if (text.Length == 0 || text.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c == ','))
        {
            return null;
        }

        if (!text.Contains("://", StringComparison.Ordinal))
        {
            text = "https://" + text;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri)
            || uri.Scheme is not ("http" or "https")
            || uri.Host.Length == 0
            || uri.AbsolutePath != "/"
            || uri.Query.Length > 0
            || uri.Fragment.Length > 0
            || uri.UserInfo.Length > 0)
        {
            return null;
        }

        return uri.IsDefaultPort ? $"{uri.Scheme}://{uri.Host}" : string.Create(CultureInfo.InvariantCulture, $"{uri.Scheme}://{uri.Host}:{uri.Port}");
    }

    /// <summary>True for a bucket name s3fs can be given as its first argument (lowercase letters, digits, '.', '-').</summary>
    public static bool IsBucket(string bucket) => BucketPattern().IsMatch(bucket);

    /// <summary>s3fs's first argument: "bucket", or "bucket:/prefix" for a folder in it.</summary>
    public static string Source(string bucket, string prefix)
    {
        var folder = prefix.Trim('/');
        return folder.Length == 0 ? bucket : $"{bucket}:/{folder}";
    }

    /// <summary>The value of s3fs's <c>-o</c>: path-style requests to the endpoint, credentials from the password file, warnings to the log file.</summary>
    /// <exception cref="ArgumentException">A file path contains a comma (it would split the option list).</exception>
    public static string Options(string endpointUrl, string passwordFile, string logFile, bool readOnly)
    {
        foreach (var value in new[] { endpointUrl, passwordFile, logFile })
        {
            if (value.Contains(',', StringComparison.Ordinal))
            {
                throw new ArgumentException($"'{value}' contains a comma, which s3fs's option list cannot hold; move Agent:StateDir to a path without commas");
            }
        }

        List<string> options =
        [
            $"url={endpointUrl}",
            "use_path_request_style",
            $"passwd_file={passwordFile}",
            $"logfile={logFile}",
            "dbglevel=warn",
            // Instances reach the mount through a bind; files show as root's, readable by every user in the instance.
            "allow_other",
            "umask=0022",
            "mp_umask=0022",
            // Uploads of large files: 8 parts of 64 MB in flight.
            "parallel_count=8",
            "multipart_size=64",
            // Fail in seconds, not minutes, when the endpoint does not answer.
            "connect_timeout=10",
            "retries=3",
        ];
        if (readOnly)
        {
            options.Add("ro");
        }

        return string.Join(',', options);
    }

    /// <summary>
    /// What s3fs said went wrong, from its log file (its [CRT] and [ERR] lines, and the S3 error code and message)
    /// or, when it wrote none, from its stderr; every string of <paramref name="redact"/> is replaced with ***.
    /// </summary>
    public static string Summarize(string log, string stderr, IEnumerable<string> redact)
    {
        var lines = log.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var messages = lines
            .Select(l => LogLinePattern().Match(l))
            .Where(m => m.Success)
            .Select(m => (Level: m.Groups["level"].Value, Text: m.Groups["text"].Value.Split(" Body Text:", 2)[0].Trim()))
            .ToList();
        // s3fs's conclusion is its last critical line ("invalid credentials(host=…)", "unable to connect(host=…)");
        // some critical lines are not failures (a log level change, a retry with signature v2).
        var critical = messages
            .Where(m => m.Level == "CRT" && !m.Text.StartsWith("change debug level", StringComparison.Ordinal) && !m.Text.StartsWith("Failed to connect by sigv4", StringComparison.Ordinal))
            .Select(m => m.Text)
            .ToList();
        var chosen = critical.Count > 0 ? critical.TakeLast(1).ToList() : messages.Where(m => m.Level == "ERR").Select(m => m.Text).TakeLast(2).ToList();
        var said = new List<string>(chosen.Distinct(StringComparer.Ordinal));

        var s3 = S3ErrorPattern().Matches(log).LastOrDefault();
        if (s3 is not null)
        {
            said.Add($"the store answered {s3.Groups["code"].Value}: {s3.Groups["message"].Value}");
        }

        if (said.Count == 0)
        {
            said.AddRange(stderr.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).TakeLast(5));
        }

        var text = said.Count > 0 ? string.Join("; ", said.Select(s => s.TrimEnd('.', ' '))) : "s3fs stopped without saying why";
        foreach (var secret in redact.Where(s => s.Length > 0).OrderByDescending(s => s.Length))
        {
            text = text.Replace(secret, "***", StringComparison.Ordinal);
        }

        return text;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{1,62}$")]
    private static partial Regex BucketPattern();

    // 2026-12-01T20:57:54.995Z [CRT] s3fs.cpp:s3fs_check_service(3590): invalid credentials(host=…) - result of checking service.
    [GeneratedRegex(@"^\S+\s+\[(?<level>CRT|ERR|WAN)\]\s+\S+?\(\d+\):\s*(?<text>.*)$")]
    private static partial Regex LogLinePattern();

    [GeneratedRegex("<Code>(?<code>[^<]*)</Code>\\s*<Message>(?<message>[^<]*)</Message>")]
    private static partial Regex S3ErrorPattern();
}
