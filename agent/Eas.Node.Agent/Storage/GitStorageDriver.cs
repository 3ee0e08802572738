using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.Runtime;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Eas.Node.Agent.Storage;

/// <summary>
/// <c>git</c> storage: a fresh clone per instance in <c>&lt;instance dir&gt;/git/&lt;index&gt;</c>, made at every
/// prepare (so a restart picks up a moved branch), bound read-only. <c>branch</c> defaults to master; with
/// <c>commit</c> the branch is cloned and the commit checked out detached (fetched explicitly when it is not on
/// the branch), without it only the branch tip is cloned (depth 1).
/// </summary>
/// <remarks>
/// Credentials never reach argv, logs, messages or <c>.git/config</c>: git gets them from a credential helper
/// (a shell snippet given with <c>-c</c>) that reads them from git's environment; a <c>user:password@</c> in the
/// URL is taken out of it first. git runs without prompts, without the host's system/global config or .netrc
/// (HOME is a private, empty temp dir), with umask 022, over http(s) only, and within <see cref="Timeout"/> for
/// the whole prepare. Nothing is shared between instances: the
/// instance directory goes with the instance, so release has nothing to do.
/// </remarks>
public sealed partial class GitStorageDriver(IOptions<AgentOptions> options, ICommandRunner commands, ILogger<GitStorageDriver> logger) : IStorageDriver
{
    /// <summary>The branch cloned when the spec names none (as on EAS).</summary>
    public const string DefaultBranch = "master";

    /// <summary>How long the whole clone of one entry may take by default.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(10);

    private const string Shell = "/bin/sh";

    // Runs git ("$0") with a umask that leaves the checkout readable, not writable, by the container's user, and
    // without git variables the agent may have inherited (repository redirection, tracing that would print
    // credentials, ssh commands, an askpass of its own).
    private const string Wrapper =
        "umask 022 && unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES "
        + "GIT_NAMESPACE GIT_COMMON_DIR GIT_CEILING_DIRECTORIES GIT_CONFIG GIT_CONFIG_PARAMETERS GIT_CONFIG_COUNT "
        + "GIT_SSH GIT_SSH_COMMAND GIT_PROXY_COMMAND GIT_EXEC_PATH GIT_TEMPLATE_DIR GIT_REPLACE_REF_BASE GIT_TRACE "
        + "GIT_TRACE_CURL GIT_TRACE_PACKET GIT_TRACE_SETUP GIT_TRACE2 GIT_TRACE2_EVENT GIT_TRACE2_PERF GIT_CURL_VERBOSE "
        + "GIT_ASKPASS SSH_ASKPASS && exec \"$0\" \"$@\"";

    // A credential helper (a shell snippet, so nothing to execute from a temp dir) that answers git's "get" from
    // the environment; the secrets themselves never appear in argv.
    private const string CredentialHelper = "credential.helper=!f() { test \"$1\" = get || return 0; "
        + "test -z \"$EAS_GIT_USERNAME\" || printf 'username=%s\\n' \"$EAS_GIT_USERNAME\"; "
        + "test -z \"$EAS_GIT_PASSWORD\" || printf 'password=%s\\n' \"$EAS_GIT_PASSWORD\"; return 0; }; f";

    /// <summary>Used as the user name when the spec gives a password (token) but no user name.</summary>
    private const string TokenUser = "git";

    private readonly AgentOptions _options = options.Value;
    private readonly ICommandRunner _commands = commands;

    /// <inheritdoc/>
    public Mount.SourceOneofCase Kind => Mount.SourceOneofCase.Git;

    /// <summary>How long the whole clone (clone, fetch, checkout) of one entry may take.</summary>
    internal TimeSpan Timeout { get; init; } = DefaultTimeout;

    /// <summary>
    /// Accept file:// URLs (a repository on the node, as the spec allows: no more than a host mount can read);
    /// false turns them away like ssh.
    /// </summary>
    internal bool AllowFileUrls { get; init; } = true;

    /// <summary>Where entry <paramref name="index"/> of an instance is cloned.</summary>
    public static string CloneDir(string instanceDir, int index) => Path.Combine(instanceDir, "git", index.ToString(CultureInfo.InvariantCulture));

    /// <inheritdoc/>
    public async Task<string> AcquireAsync(StorageRequest request, CancellationToken cancellationToken)
    {
        var git = request.Mount.Git ?? new GitSource();
        var at = $"storage[{request.Index}].git";
        var url = GitUrl.Parse(git.Repo);
        var username = git.Username.Length > 0 ? git.Username : url.Username ?? "";
        var password = git.Password.Length > 0 ? git.Password : url.Password ?? "";
        if (username.Length == 0 && password.Length > 0)
        {
            username = TokenUser;
        }

        var repo = GitUrl.Redact(url.Url, password);
        var branch = git.Branch.Trim().Length > 0 ? git.Branch.Trim() : DefaultBranch;
        var commit = git.Commit.Trim();
        Validate(request, at, url, repo, branch, commit);
        var gitPath = _options.Storage.Git;
        if (!File.Exists(gitPath))
        {
            throw new InstanceFailedException($"{request.Name}: git storage needs git on the node, and Agent:Storage:Git '{gitPath}' does not exist; install git or set Agent:Storage:Git");
        }

        var dir = CloneDir(request.Context.Dir, request.Index);
        if (Path.Exists(dir))
        {
            GitLog.RemovingLeftover(logger, request.Context.InstanceId, request.Index, dir);
            Remove(dir);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(dir)!);
        var home = Directory.CreateTempSubdirectory("eas-git-").FullName;
        try
        {
            var run = new Run(this, gitPath, Environment(home, username, password), username.Length + password.Length > 0, Stopwatch.StartNew(), cancellationToken);
            var what = commit.Length > 0 ? $"branch {branch}, commit {commit}" : $"branch {branch}";
            request.Context.ReportProgress($"storage[{request.Index}]: cloning {repo} ({what})");

            string[] clone = commit.Length > 0
                ? ["clone", "--branch", branch, "--single-branch", "--no-checkout", "--no-tags", "--", url.Url, dir]
                : ["clone", "--branch", branch, "--single-branch", "--depth", "1", "--no-tags", "--", url.Url, dir];
            var cloned = await run.GitAsync(clone);
            Check(cloned, request, repo, password, $"check {at}.repo and that the node can reach it");
            if (commit.Length > 0)
            {
                await CheckOutAsync(run, request, at, repo, branch, commit, dir, password);
            }

            var head = await run.GitAsync(["-C", dir, "rev-parse", "HEAD"]);
            Check(head, request, repo, password, $"check {at}.repo");
            var hash = head.Stdout.Trim();
            GitLog.Cloned(logger, request.Context.InstanceId, request.Index, repo, branch, hash, dir);
            request.Context.ReportProgress($"storage[{request.Index}]: {repo} at {hash[..Math.Min(12, hash.Length)]}");
            return dir;
        }
        catch
        {
            // A half-made clone must not be bound; the failure itself is what the caller needs to see.
            try
            {
                Remove(dir);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                GitLog.CannotRemove(logger, request.Context.InstanceId, request.Index, dir, ex.Message);
            }

            throw;
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    /// <inheritdoc/>
    public Task ReleaseAsync(string instanceId, CancellationToken cancellationToken) => Task.CompletedTask;

    private void Validate(StorageRequest request, string at, GitUrl url, string repo, string branch, string commit)
    {
        if (url.Url.Length == 0)
        {
            throw new InstanceFailedException($"{request.Name}: {at}.repo is empty; give the repository's URL, e.g. https://git.example.com/team/models.git");
        }

        if (url.Scheme is not ("https" or "http") && !(url.Scheme == "file" && AllowFileUrls))
        {
            var scheme = url.Scheme.Length == 0 ? "no protocol" : $"protocol '{url.Scheme}'";
            throw new InstanceFailedException($"{request.Name}: {at}.repo '{repo}' uses {scheme}; git storage clones over https (or http) only; give an https:// URL");
        }

        if (branch.StartsWith('-') || branch.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '~' or '^' or ':' or '?' or '*' or '[' or '\\')
            || branch.Contains("..", StringComparison.Ordinal))
        {
            throw new InstanceFailedException($"{request.Name}: {at}.branch '{branch}' is not a valid branch name; give a branch of the repository, e.g. master");
        }

        if (commit.Length > 0 && !CommitRegex().IsMatch(commit))
        {
            throw new InstanceFailedException($"{request.Name}: {at}.commit '{commit}' is not a commit hash; give the hexadecimal hash as git log shows it (full or at least 4 digits)");
        }
    }

    private async Task CheckOutAsync(Run run, StorageRequest request, string at, string repo, string branch, string commit, string dir, string password)
    {
        var present = await run.GitAsync(["-C", dir, "cat-file", "-e", commit + "^{commit}"]);
        if (!present.Succeeded)
        {
            if (commit.Length is not (40 or 64))
            {
                throw new InstanceFailedException($"{request.Name}: git clone of {repo} failed: commit {commit} is not on branch {branch}; "
                    + $"check {at}.commit and {at}.branch, or give the full 40-digit hash to fetch a commit outside the branch");
            }

            var fetched = await run.GitAsync(["-C", dir, "fetch", "--no-tags", "--quiet", "origin", commit]);
            if (fetched.ExitCode == -1)
            {
                Check(fetched, request, repo, password, "");
            }

            if (!fetched.Succeeded)
            {
                throw new InstanceFailedException($"{request.Name}: git clone of {repo} failed: commit {commit} is not on branch {branch} and the repository "
                    + $"does not have it ({Tail(fetched, password, 1)}); check {at}.commit and {at}.branch");
            }
        }

        var checkedOut = await run.GitAsync(["-C", dir, "checkout", "--quiet", "--detach", commit]);
        Check(checkedOut, request, repo, password, $"check {at}.commit");
    }

    private void Check(CommandResult result, StorageRequest request, string repo, string password, string fix)
    {
        if (result.ExitCode == -1)
        {
            throw new InstanceFailedException($"{request.Name}: git clone of {repo} did not finish within {Describe(Timeout)} and was stopped; "
                + "check that the node can reach the repository (without a commit only the branch tip is fetched, which is faster for a large repository)");
        }

        if (!result.Succeeded)
        {
            var at = $"storage[{request.Index}].git";
            var output = result.Stdout + "\n" + result.Stderr;
            fix = output.Contains("could not read Username", StringComparison.Ordinal) || output.Contains("could not read Password", StringComparison.Ordinal)
                ? $"the repository asks for credentials; give {at}.username and {at}.password"
                : output.Contains("Authentication failed", StringComparison.Ordinal) ? $"check {at}.username and {at}.password"
                : output.Contains("Remote branch", StringComparison.Ordinal) ? $"check {at}.branch"
                : fix;
            var hint = fix.Length > 0 ? $" ({fix})" : "";
            throw new InstanceFailedException($"{request.Name}: git clone of {repo} failed: {Tail(result, password, 15)}{hint}");
        }
    }

    /// <summary>git's last lines without its chatter ("Cloning into", an absent askpass), credentials redacted.</summary>
    private static string Tail(CommandResult result, string password, int lines)
    {
        var kept = (result.Stdout + "\n" + result.Stderr)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.StartsWith("Cloning into", StringComparison.Ordinal)
                && !l.StartsWith("warning: Could not find remote branch", StringComparison.Ordinal)
                && !l.StartsWith("error: unable to read askpass response", StringComparison.Ordinal))
            .TakeLast(lines);
        return GitUrl.Redact(string.Join("\n", kept), password);
    }

    private static string Describe(TimeSpan span) => span.TotalMinutes >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{span.TotalMinutes:0.#} min")
        : string.Create(CultureInfo.InvariantCulture, $"{span.TotalSeconds:0.#} s");

    private Dictionary<string, string> Environment(string home, string username, string password) => new(StringComparer.Ordinal)
    {
        // Also what git follows redirects and submodule-like references to.
        ["GIT_ALLOW_PROTOCOL"] = AllowFileUrls ? "https:http:file" : "https:http",
        ["GIT_TERMINAL_PROMPT"] = "0",
        ["GIT_CONFIG_NOSYSTEM"] = "1",
        ["GIT_CONFIG_GLOBAL"] = "/dev/null",
        ["HOME"] = home,
        ["XDG_CONFIG_HOME"] = home,
        ["LC_ALL"] = "C",
        ["EAS_GIT_USERNAME"] = username,
        ["EAS_GIT_PASSWORD"] = password,
    };

    /// <summary>Removes a clone (or whatever is at its place), restoring owner write bits first so it also works without root.</summary>
    private static void Remove(string dir)
    {
        if (File.Exists(dir) && !Directory.Exists(dir))
        {
            File.Delete(dir);
            return;
        }

        if (!Directory.Exists(dir))
        {
            return;
        }

        foreach (var sub in Directory.EnumerateDirectories(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint }).Prepend(dir))
        {
            var mode = File.GetUnixFileMode(sub);
            if (!mode.HasFlag(UnixFileMode.UserWrite) || !mode.HasFlag(UnixFileMode.UserExecute))
            {
                File.SetUnixFileMode(sub, mode | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.UserRead);
            }
        }

        Directory.Delete(dir, recursive: true);
    }

    [GeneratedRegex("^[0-9a-fA-F]{4,64}$")]
    private static partial Regex CommitRegex();

    /// <summary>The git runs of one prepare: same environment, one deadline.</summary>
    private sealed class Run(GitStorageDriver driver, string gitPath, Dictionary<string, string> environment, bool credentials, Stopwatch elapsed, CancellationToken cancellationToken)
    {
        public async Task<CommandResult> GitAsync(string[] arguments)
        {
            var left = driver.Timeout - elapsed.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                return new CommandResult(-1, "", "");
            }

            // "credential.helper=" first drops any helper from elsewhere (none should be read, but none may store).
            string[] helper = credentials ? ["-c", CredentialHelper] : [];
            string[] argv = ["-c", Wrapper, gitPath, "-c", "credential.helper=", .. helper, "-c", "advice.detachedHead=false", "-c", "core.fsmonitor=false", .. arguments];
            return await driver._commands.RunAsync(Shell, argv, new CommandOptions { Environment = environment, Timeout = left }, cancellationToken);
        }
    }
}
