using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Eas.Node.Spec.Parsing;

namespace Eas.Node.Spec;

/// <summary>The storage kinds that bring data in from elsewhere: <c>oss</c>, <c>nfs</c>, <c>git</c>, and <c>cache</c> on top of them.</summary>
public static partial class SpecParser
{
    private const string OssScheme = "oss://";

    private const string CredentialFix =
        "remove it; the node reads object-store credentials from its secrets file (Agent:Storage:SecretsFile), and \"secret\": \"<name>\" picks one of them by name (see docs/storage.md)";

    /// <summary>Key spellings of inline object-store credentials, lowercased without <c>_</c> and <c>-</c>.</summary>
    private static readonly string[] _credentialKeys =
        ["accesskeyid", "accesskeysecret", "accesskey", "secretkey", "secretaccesskey", "ak", "sk", "sessiontoken", "securitytoken"];

    private static StorageSpec? ReadOss(JsonObject oss, string path, SpecReader reader)
    {
        // Keys are named, never their values: whatever is there is meant to be secret.
        var credentials = oss.Select(p => p.Key).Where(IsCredentialKey).ToList();
        foreach (var key in credentials)
        {
            reader.Error(SpecPath.Child(path, key), $"\"{key}\" looks like an object-store credential; credentials never come from the spec (it is stored and shown)", CredentialFix);
        }

        var readOnly = reader.Bool(oss, path, "readOnly") ?? false;
        var endpoint = OptionalText(oss, path, "endpoint", reader);
        if (endpoint is not null && !IsEndpoint(endpoint))
        {
            reader.Error(SpecPath.Child(path, "endpoint"), $"{SpecReader.Quote(WithoutUserInfo(endpoint))} is not an object-store endpoint; an endpoint is \"host[:port]\" or an http(s) URL with no path",
                "write e.g. \"minio.internal:9000\" or \"https://s3.example.com\", or remove it for the node's default (Agent:Storage:OssEndpoint)");
            endpoint = null;
        }

        var secret = OptionalText(oss, path, "secret", reader);
        if (secret is not null && !SecretNamePattern().IsMatch(secret))
        {
            reader.Error(SpecPath.Child(path, "secret"), "is not a credential name; secret names a credential in the node's secrets file: 1 to 128 letters, digits, -, _ and .",
                "write the credential's name, e.g. \"team-a\" (never the key itself), or remove it for the node's \"default\" credential");
            secret = null;
        }

        reader.OtherKeys(oss, path, ["path", "readOnly", "endpoint", "secret", .. credentials]);
        if (!reader.Require(oss, path, "path", "add \"path\": \"oss://bucket/folder/\" (the bucket, and optionally a folder in it)")
            || reader.String(oss, path, "path") is not { } ossPath
            || ReadOssPath(ossPath, SpecPath.Child(path, "path"), reader) is not { } location
            || credentials.Count > 0)
        {
            return null;
        }

        return new StorageSpec { MountPath = string.Empty, Oss = new OssStorage(location.Bucket, location.Prefix, endpoint, secret, readOnly) };
    }

    private static bool IsCredentialKey(string key) =>
        _credentialKeys.Contains(key.Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal).ToLowerInvariant(), StringComparer.Ordinal);

    /// <summary><c>oss://bucket/</c>, <c>oss://bucket/a/b/</c> (the trailing slash may be left out) → bucket and <c>a/b</c>.</summary>
    private static (string Bucket, string Prefix)? ReadOssPath(string value, string at, SpecReader reader)
    {
        const string Fix = "write \"oss://bucket/\" for a whole bucket or \"oss://bucket/folder/\" for a folder in it";
        var quoted = SpecReader.Quote(value);
        if (!value.StartsWith(OssScheme, StringComparison.OrdinalIgnoreCase))
        {
            reader.Error(at, $"{quoted} is not an oss:// path", value.Contains("://", StringComparison.Ordinal)
                ? $"write it with the oss:// scheme, which stands for any S3-compatible store here: \"oss://{value[(value.IndexOf("://", StringComparison.Ordinal) + 3)..].TrimStart('/')}\""
                : Fix);
            return null;
        }

        var rest = value[OssScheme.Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var bucket = slash < 0 ? rest : rest[..slash];
        var prefix = slash < 0 ? string.Empty : rest[(slash + 1)..];
        if (!BucketPattern().IsMatch(bucket) || bucket.Contains("..", StringComparison.Ordinal))
        {
            var lower = bucket.ToLowerInvariant();
            var fix = lower != bucket && BucketPattern().IsMatch(lower) ? $"bucket names are lowercase: \"oss://{lower}/{prefix}\"" : Fix;
            reader.Error(at, $"{SpecReader.Quote(bucket)} is not a bucket name; a bucket name is 3 to 63 lowercase letters, digits, - and ., starting and ending with a letter or digit", fix);
            return null;
        }

        prefix = prefix.EndsWith('/') ? prefix[..^1] : prefix;
        if (prefix.Length == 0)
        {
            return (bucket, string.Empty);
        }

        var segments = prefix.Split('/');
        if (segments.Any(s => s.Length == 0))
        {
            reader.Error(at, $"{quoted} has an empty folder name (//)", "write each folder once between single slashes, e.g. \"oss://bucket/models/qwen/\"");
            return null;
        }

        if (segments.Any(s => s is "." or ".."))
        {
            reader.Error(at, $"{quoted} has a . or .. folder; the path inside a bucket must name its folders plainly", "write the folder without . and .., e.g. \"oss://bucket/models/\"");
            return null;
        }

        if (prefix.Any(char.IsControl))
        {
            reader.Error(at, $"{quoted} has a control character (such as a newline or a tab)", "remove it");
            return null;
        }

        return (bucket, prefix);
    }

    /// <summary><c>host[:port]</c> or <c>http(s)://host[:port]</c>, with at most a trailing slash.</summary>
    private static bool IsEndpoint(string endpoint)
    {
        if (endpoint.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            return false;
        }

        var scheme = endpoint.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || endpoint.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
        if (!scheme && endpoint.Contains('/', StringComparison.Ordinal))
        {
            return false;
        }

        return Uri.TryCreate(scheme ? endpoint : "http://" + endpoint, UriKind.Absolute, out var uri)
            && uri.Host.Length > 0
            && uri.UserInfo.Length == 0
            && uri.Port > 0
            && uri.AbsolutePath == "/"
            && uri.Query.Length == 0
            && uri.Fragment.Length == 0
            && !endpoint.EndsWith('?')
            && !endpoint.EndsWith('#');
    }

    private static StorageSpec? ReadNfs(JsonObject nfs, string path, SpecReader reader)
    {
        var readOnly = reader.Bool(nfs, path, "readOnly") ?? false;
        reader.OtherKeys(nfs, path, "server", "path", "readOnly");

        string? server = null;
        if (reader.Require(nfs, path, "server", "add \"server\": \"nfs.internal\" (the NFS server's host name or IP address)")
            && reader.String(nfs, path, "server") is { } text)
        {
            server = text.Trim();
            var at = SpecPath.Child(path, "server");
            if (server.Contains("://", StringComparison.Ordinal))
            {
                reader.Error(at, $"{SpecReader.Quote(server)} has a scheme; server is a host name or IP address only", $"write \"{server[(server.IndexOf("://", StringComparison.Ordinal) + 3)..].Split('/')[0]}\"");
                server = null;
            }
            else if (server.Length == 0 || server.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)) || Uri.CheckHostName(server) == UriHostNameType.Unknown)
            {
                reader.Error(at, $"{SpecReader.Quote(server)} is not a host name or IP address (no scheme, port, path or spaces)",
                    "write e.g. \"nfs.internal\" or \"10.0.0.5\"; the export's path goes in \"path\"");
                server = null;
            }
        }

        var exportPath = "/";
        if (reader.String(nfs, path, "path") is { } pathText)
        {
            var at = SpecPath.Child(path, "path");
            if (!PosixPath.IsAbsolute(pathText) || pathText.Any(char.IsControl))
            {
                reader.Error(at, $"{SpecReader.Quote(pathText)} is not an absolute path on the NFS server", $"start it with /, e.g. \"/{pathText.TrimStart('.', '/')}\"");
                return null;
            }

            if (PosixPath.HasParentSegment(pathText))
            {
                reader.Error(at, $"{SpecReader.Quote(pathText)} has a .. segment", "write the exported path without .., e.g. \"/exports/models\"");
                return null;
            }

            exportPath = PosixPath.Clean(pathText);
        }
        else if (nfs.ContainsKey("path"))
        {
            return null;
        }

        return server is null ? null : new StorageSpec { MountPath = string.Empty, Nfs = new NfsStorage(server, exportPath, readOnly) };
    }

    private static StorageSpec? ReadGit(JsonObject git, string path, SpecReader reader)
    {
        if (reader.Bool(git, path, "readOnly") == false)
        {
            reader.Warning(SpecPath.Child(path, "readOnly"), "git mounts are always read-only; readOnly: false is ignored", "remove readOnly");
        }

        reader.OtherKeys(git, path, "repo", "branch", "commit", "username", "password", "readOnly");
        var ok = true;

        string? repo = null;
        if (reader.Require(git, path, "repo", "add \"repo\": \"https://git.example.com/team/models.git\"")
            && reader.String(git, path, "repo") is { } repoText)
        {
            repo = repoText.Trim();
            if (GitRepoProblem(repo) is { } problem)
            {
                reader.Error(SpecPath.Child(path, "repo"), $"{SpecReader.Quote(WithoutUserInfo(repo))} {problem.Message}", problem.Fix);
                repo = null;
            }
        }

        var branch = OptionalText(git, path, "branch", reader) ?? GitStorage.DefaultBranch;
        if (!IsBranchName(branch))
        {
            reader.Error(SpecPath.Child(path, "branch"), $"{SpecReader.Quote(branch)} is not a branch name (no spaces, control characters, .., ~ ^ : ? * [ \\ or @{{, not starting with - or /, not ending with /, . or .lock)",
                "write the branch as git shows it, e.g. \"main\" or \"release/1.2\", or remove it for master");
            ok = false;
        }

        var commit = OptionalText(git, path, "commit", reader);
        if (commit is not null && !CommitPattern().IsMatch(commit))
        {
            reader.Error(SpecPath.Child(path, "commit"), $"{SpecReader.Quote(commit)} is not a commit id; a commit id is 7 to 40 hexadecimal digits",
                "write the commit's hash as `git log` shows it, e.g. \"3f2a9c1\", or remove it for the tip of the branch");
            ok = false;
        }

        var username = OptionalText(git, path, "username", reader);
        if (username is not null && (username.Any(char.IsControl) || username.Contains(':', StringComparison.Ordinal)))
        {
            reader.Error(SpecPath.Child(path, "username"), "has a control character or a ':'; a user name is one line without ':'", "write the user name alone; the password or token goes in \"password\"");
            ok = false;
        }

        var password = ReadGitPassword(git, path, reader, ref ok);
        return ok && repo is not null
            ? new StorageSpec { MountPath = string.Empty, Git = new GitStorage(repo, branch, commit?.ToLowerInvariant(), username, password) }
            : null;
    }

    /// <summary>The password, never shown in a message: not its value, not even its kind of number.</summary>
    private static string? ReadGitPassword(JsonObject git, string path, SpecReader reader, ref bool ok)
    {
        if (!git.TryGetPropertyValue("password", out var node))
        {
            return null;
        }

        var at = SpecPath.Child(path, "password");
        if (SpecReader.Kind(node) != JsonValueKind.String)
        {
            reader.Error(at, "must be a string", "write the password or access token in quotes, or remove it for a public repository");
            ok = false;
            return null;
        }

        var password = node!.GetValue<string>();
        if (password.Any(char.IsControl))
        {
            reader.Error(at, "has a control character (such as a newline); a password is one line", "write the password or access token without line breaks");
            ok = false;
            return null;
        }

        return password.Length == 0 ? null : password;
    }

    private sealed record Problem(string Message, string Fix);

    /// <summary>What is wrong with a repository URL, or null. The message follows the (user-info-free) URL.</summary>
    private static Problem? GitRepoProblem(string repo)
    {
        const string Fix = "write e.g. \"https://git.example.com/team/models.git\" (or file:///srv/git/models.git for a repository on the node)";
        if (repo.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            return new("has a space or a control character", Fix);
        }

        var schemeEnd = repo.IndexOf("://", StringComparison.Ordinal);
        var scheme = schemeEnd < 0 ? string.Empty : repo[..schemeEnd].ToLowerInvariant();
        if (scheme is not ("https" or "http" or "file"))
        {
            return new("is not an https://, http:// or file:// URL (ssh and scp-style addresses are not supported)", Fix);
        }

        if (!Uri.TryCreate(repo, UriKind.Absolute, out var uri))
        {
            return new("is not a valid URL", Fix);
        }

        if (scheme == "file")
        {
            return uri.Host.Length > 0 || !repo.StartsWith("file:///", StringComparison.OrdinalIgnoreCase)
                ? new("names a host; a file:// URL names a folder on the node", "write three slashes and an absolute path: \"file:///srv/git/models.git\"")
                : PosixPath.HasParentSegment(repo[7..]) || repo.Length == 8
                    ? new("is not an absolute folder path without ..", "write e.g. \"file:///srv/git/models.git\"")
                    : null;
        }

        if (uri.UserInfo.Length > 0 || repo[(schemeEnd + 3)..].Split('/')[0].Contains('@', StringComparison.Ordinal))
        {
            return new("has a user name or password in the URL; they would be stored and shown with it",
                "remove them from the URL and write them in \"username\" and \"password\"");
        }

        return uri.Host.Length == 0 ? new("has no host", Fix) : null;
    }

    /// <summary>The URL with anything before an '@' in its authority replaced by ***, for messages.</summary>
    private static string WithoutUserInfo(string url)
    {
        var start = url.IndexOf("://", StringComparison.Ordinal);
        if (start < 0)
        {
            return url.Contains('@', StringComparison.Ordinal) ? "***" + url[url.LastIndexOf('@')..] : url;
        }

        start += 3;
        var end = url.IndexOfAny(['/', '?', '#'], start);
        var authority = end < 0 ? url[start..] : url[start..end];
        var at = authority.LastIndexOf('@');
        return at < 0 ? url : url[..start] + "***" + url[(start + at)..];
    }

    private static bool IsBranchName(string branch) =>
        branch.Length is > 0 and <= 255
        && !branch.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '~' or '^' or ':' or '?' or '*' or '[' or '\\')
        && !branch.Contains("..", StringComparison.Ordinal)
        && !branch.Contains("//", StringComparison.Ordinal)
        && !branch.Contains("@{", StringComparison.Ordinal)
        && branch != "@"
        && !branch.StartsWith('-') && !branch.StartsWith('/')
        && !branch.EndsWith('/') && !branch.EndsWith('.')
        && !branch.EndsWith(".lock", StringComparison.Ordinal)
        && !branch.Split('/').Any(s => s.StartsWith('.'));

    private static StorageSpec? ReadCache(JsonObject cache, string path, SpecReader reader)
    {
        reader.OtherKeys(cache, path, "path", "capacity");
        var capacity = cache.TryGetPropertyValue("capacity", out var node) ? CapacityMib(node, SpecPath.Child(path, "capacity"), reader) : 0;
        if (!reader.Require(cache, path, "path", "add \"path\": \"/mnt/oss/models\" (a folder under the mount_path of a host, oss, nfs or git entry of this spec)")
            || reader.String(cache, path, "path") is not { } source)
        {
            return null;
        }

        var at = SpecPath.Child(path, "path");
        if (!PosixPath.IsAbsolute(source) || source.Any(char.IsControl))
        {
            reader.Error(at, $"{SpecReader.Quote(source)} is not an absolute path; path is the folder to cache as the instance sees it", $"start it with /, e.g. \"/{source.TrimStart('.', '/')}\"");
            return null;
        }

        if (PosixPath.HasParentSegment(source))
        {
            reader.Error(at, $"{SpecReader.Quote(source)} has a .. segment", "write the folder without .., e.g. \"/mnt/oss/models\"");
            return null;
        }

        return capacity is { } mib ? new StorageSpec { MountPath = string.Empty, Cache = new CacheStorage(PosixPath.Clean(source), mib) } : null;
    }

    /// <summary>
    /// Every cache must copy a folder of another entry that brings data in (host, oss, nfs, git): the entry with the
    /// deepest mount_path that holds the cache's path. The cache must not be mounted inside that folder, nor it inside the cache.
    /// </summary>
    private static void CheckCacheSources(IReadOnlyList<StorageEntry> entries, SpecReader reader)
    {
        foreach (var entry in entries)
        {
            if (entry.Spec?.Cache is not { } cache)
            {
                continue;
            }

            var at = SpecPath.Child(SpecPath.Child(SpecPath.Index("storage", entry.Index), StorageKinds.Cache), "path");
            var source = cache.SourcePath;
            const string Rule = "a cache copies a folder that another storage entry of this spec mounts, and only a host, oss, nfs or git entry";
            if (PosixPath.IsUnder(source, entry.MountPath!) || PosixPath.IsUnder(entry.MountPath!, source))
            {
                reader.Error(at, $"{source} and this entry's mount_path {entry.MountPath} lie inside one another; a cache is mounted outside the folder it copies",
                    "mount the cache somewhere else, e.g. \"mount_path\": \"/models\" with \"path\": \"/mnt/oss/models\"");
                continue;
            }

            var owner = entries
                .Where(e => e.Index != entry.Index && e.MountPath is not null && PosixPath.IsUnder(source, e.MountPath))
                .MaxBy(e => e.MountPath!.Length);
            if (owner is not null && owner.Kind is not null && StorageKinds.CacheSources.Contains(owner.Kind, StringComparer.Ordinal))
            {
                continue;
            }

            var candidates = entries
                .Where(e => e.MountPath is not null && e.Kind is not null && StorageKinds.CacheSources.Contains(e.Kind, StringComparer.Ordinal))
                .Select(e => $"{e.MountPath} (storage[{e.Index}].{e.Kind})")
                .ToList();
            var fix = candidates.Count > 0
                ? $"set path to a folder under one of: {string.Join(", ", candidates)}"
                : "add a host, oss, nfs or git storage entry that mounts the data, and set path to a folder under its mount_path";
            var problem = owner is null
                ? $"{source} is not under the mount_path of another storage entry; {Rule}"
                : owner.Kind is null
                    ? $"{source} is under storage[{owner.Index}] ({owner.MountPath}), which has no single kind; {Rule}"
                    : $"{source} is under storage[{owner.Index}] ({owner.MountPath}), whose kind is {owner.Kind}; {Rule}";
            reader.Error(at, problem, fix);
        }
    }

    /// <summary>
    /// <c>capacity</c> in MiB: a number is GB (<c>200</c>); a string carries a unit, M, G or T, optionally followed by
    /// <c>i</c>, <c>B</c> or <c>iB</c>, in any case (<c>"200G"</c>, <c>"512Mi"</c>, <c>"1.5T"</c>, <c>"100GB"</c>). Every unit is binary. Fractions round up.
    /// </summary>
    private static long? CapacityMib(JsonNode? node, string path, SpecReader reader) => SizeMib(
        node,
        path,
        reader,
        new SizeRules("capacity", "GB", "G", CapacityPattern(), unit => char.ToUpperInvariant(unit[0]) switch { 'M' => 1, 'G' => 1024, _ => 1024 * 1024 },
            "write a size such as \"200G\", \"512Mi\" or \"1.5T\", or a number of GB such as 200; remove it for the node's default"));

    /// <summary>An optional string; <c>""</c> counts as not given.</summary>
    private static string? OptionalText(JsonObject obj, string path, string key, SpecReader reader) =>
        reader.String(obj, path, key) is { Length: > 0 } text ? text : null;

    [GeneratedRegex(@"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]\z")]
    private static partial Regex BucketPattern();

    [GeneratedRegex(@"^[A-Za-z0-9._\-]{1,128}\z")]
    private static partial Regex SecretNamePattern();

    [GeneratedRegex(@"^[0-9a-fA-F]{7,40}\z")]
    private static partial Regex CommitPattern();

    [GeneratedRegex(@"^(?<amount>[0-9]+(\.[0-9]+)?)\s*(?<unit>[MGT])(iB|i|B)?\z", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex CapacityPattern();
}
