using Eas.Node.Agent.Runtime;

namespace Eas.Node.Agent.Tests.Storage;

/// <summary>
/// A bare repository in a temp folder: on master "first" then "second" (README.txt holds the commit's name),
/// and a branch dev from second with "dev" (README.txt "dev", dev.txt). Removed on dispose.
/// </summary>
internal sealed class GitTestRepository : IAsyncDisposable
{
    private GitTestRepository(string root) => Root = root;

    /// <summary>The folder holding repo.git (a git http-backend project root).</summary>
    public string Root { get; }

    public string BarePath => Path.Combine(Root, "repo.git");

    public string FileUrl => "file://" + BarePath;

    public string First { get; private set; } = "";

    public string Second { get; private set; } = "";

    public string Dev { get; private set; } = "";

    public static async Task<GitTestRepository> CreateAsync()
    {
        var repository = new GitTestRepository(Directory.CreateTempSubdirectory("eas-git-repo-").FullName);
        try
        {
            var work = Path.Combine(repository.Root, "work");
            await GitAsync(repository.Root, "init", "--quiet", "--initial-branch=master", work);
            repository.First = await CommitAsync(work, "first");
            repository.Second = await CommitAsync(work, "second");
            await GitAsync(work, "checkout", "--quiet", "-b", "dev");
            await File.WriteAllTextAsync(Path.Combine(work, "dev.txt"), "only on dev\n");
            repository.Dev = await CommitAsync(work, "dev");
            await GitAsync(work, "checkout", "--quiet", "master");
            await GitAsync(repository.Root, "clone", "--quiet", "--bare", work, repository.BarePath);
            return repository;
        }
        catch
        {
            await repository.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync()
    {
        Directory.Delete(Root, recursive: true);
        return ValueTask.CompletedTask;
    }

    /// <summary>Runs git in <paramref name="dir"/> without the host's configuration; returns stdout.</summary>
    public static async Task<string> GitAsync(string dir, params string[] args)
    {
        var result = await new CommandRunner().RunAsync("/usr/bin/git", ["-C", dir, "-c", "user.name=test", "-c", "user.email=test@example.com", .. args], new CommandOptions
        {
            Environment = new Dictionary<string, string> { ["GIT_CONFIG_NOSYSTEM"] = "1", ["GIT_CONFIG_GLOBAL"] = "/dev/null", ["HOME"] = dir },
        });
        result.ExitCode.Should().Be(0, $"git {string.Join(' ', args)} failed: {result.Stderr}");
        return result.Stdout.Trim();
    }

    private static async Task<string> CommitAsync(string work, string name)
    {
        await File.WriteAllTextAsync(Path.Combine(work, "README.txt"), name + "\n");
        await GitAsync(work, "add", "-A");
        await GitAsync(work, "commit", "--quiet", "-m", name);
        return await GitAsync(work, "rev-parse", "HEAD");
    }
}
