using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.Runtime;
using Eas.Node.Agent.State;
using Eas.Node.Agent.Storage;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.Logging.Abstractions;

namespace Eas.Node.Agent.Tests.Storage;

/// <summary>The git driver against real git: a local bare repository over file:// and over smart HTTP on loopback.</summary>
public sealed class GitStorageDriverTests : IAsyncLifetime
{
    private const string Password = "s3cret-Pa55word";
    private readonly string _stateDir = Directory.CreateTempSubdirectory("eas-git-state-").FullName;
    private readonly ConcurrentQueue<string> _progress = new();
    private readonly RecordingRunner _commands = new();
    private GitTestRepository _repository = null!;

    public async Task InitializeAsync() => _repository = await GitTestRepository.CreateAsync();

    public async Task DisposeAsync()
    {
        await _repository.DisposeAsync();
        Directory.Delete(_stateDir, recursive: true);
    }

    [Fact]
    public async Task Acquire_NoBranchNoCommit_ChecksOutTheTipOfMaster()
    {
        var request = Request(new GitSource { Repo = _repository.FileUrl });

        var dir = await Driver().AcquireAsync(request, CancellationToken.None);

        dir.Should().Be(Path.Combine(request.Context.Dir, "git", "0"));
        (await File.ReadAllTextAsync(Path.Combine(dir, "README.txt"))).Should().Be("second\n");
        File.Exists(Path.Combine(dir, "dev.txt")).Should().BeFalse();
        (await Head(dir)).Should().Be(_repository.Second);
        _progress.Should().Contain($"storage[0]: {_repository.FileUrl} at {_repository.Second[..12]}");
    }

    [Fact]
    public async Task Acquire_OlderCommit_ChecksItOut()
    {
        var dir = await Driver().AcquireAsync(Request(new GitSource { Repo = _repository.FileUrl, Commit = _repository.First }), CancellationToken.None);

        (await File.ReadAllTextAsync(Path.Combine(dir, "README.txt"))).Should().Be("first\n");
        (await Head(dir)).Should().Be(_repository.First);
    }

    [Fact]
    public async Task Acquire_AbbreviatedCommitOnTheBranch_ChecksItOut()
    {
        var dir = await Driver().AcquireAsync(Request(new GitSource { Repo = _repository.FileUrl, Branch = "master", Commit = _repository.First[..8] }), CancellationToken.None);

        (await Head(dir)).Should().Be(_repository.First);
    }

    [Fact]
    public async Task Acquire_BranchDev_ChecksOutItsTip()
    {
        var dir = await Driver().AcquireAsync(Request(new GitSource { Repo = _repository.FileUrl, Branch = "dev" }), CancellationToken.None);

        (await File.ReadAllTextAsync(Path.Combine(dir, "README.txt"))).Should().Be("dev\n");
        (await File.ReadAllTextAsync(Path.Combine(dir, "dev.txt"))).Should().Be("only on dev\n");
        (await Head(dir)).Should().Be(_repository.Dev);
    }

    [Fact]
    public async Task Acquire_FullCommitNotOnTheBranch_IsFetchedExplicitly()
    {
        var dir = await Driver().AcquireAsync(Request(new GitSource { Repo = _repository.FileUrl, Commit = _repository.Dev }), CancellationToken.None);

        (await Head(dir)).Should().Be(_repository.Dev);
        (await File.ReadAllTextAsync(Path.Combine(dir, "README.txt"))).Should().Be("dev\n");
    }

    [Fact]
    public async Task Acquire_UnknownCommit_FailsNamingTheCommitAndRemovesTheClone()
    {
        const string unknown = "1234567890123456789012345678901234567890";
        var request = Request(new GitSource { Repo = _repository.FileUrl, Commit = unknown });

        var act = () => Driver().AcquireAsync(request, CancellationToken.None);

        var message = (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message;
        message.Should().StartWith($"storage[0] (/data_git): git clone of {_repository.FileUrl} failed: commit {unknown} is not on branch master and the repository does not have it")
            .And.Contain("check storage[0].git.commit");
        Directory.Exists(Path.Combine(request.Context.Dir, "git", "0")).Should().BeFalse();
    }

    [Fact]
    public async Task Acquire_UnknownAbbreviatedCommit_AsksForTheFullHash()
    {
        var act = () => Driver().AcquireAsync(Request(new GitSource { Repo = _repository.FileUrl, Commit = "abcdef12" }), CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should()
            .Contain("commit abcdef12 is not on branch master").And.Contain("full 40-digit hash");
    }

    [Fact]
    public async Task Acquire_UnknownBranch_FailsWithGitsReason()
    {
        var act = () => Driver().AcquireAsync(Request(new GitSource { Repo = _repository.FileUrl, Branch = "nope" }), CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should()
            .StartWith($"storage[0] (/data_git): git clone of {_repository.FileUrl} failed: ")
            .And.Contain("Remote branch nope not found")
            .And.EndWith("(check storage[0].git.branch)")
            .And.NotContain("Cloning into");
    }

    [Theory]
    [InlineData("HEAD~1")]
    [InlineData("--upload-pack=touch")]
    public async Task Acquire_CommitThatIsNoHash_IsRefusedBeforeRunningGit(string commit)
    {
        var act = () => Driver().AcquireAsync(Request(new GitSource { Repo = _repository.FileUrl, Commit = commit }), CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should().Contain($"storage[0].git.commit '{commit}' is not a commit hash");
        _commands.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task Acquire_BranchLookingLikeAnOption_IsRefused()
    {
        var act = () => Driver().AcquireAsync(Request(new GitSource { Repo = _repository.FileUrl, Branch = "--upload-pack=touch" }), CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should().Contain("storage[0].git.branch '--upload-pack=touch' is not a valid branch name");
        _commands.Calls.Should().BeEmpty();
    }

    [Theory]
    [InlineData("file:///srv/repo.git", "protocol 'file'")]
    [InlineData("git@example.com:team/models.git", "protocol 'ssh'")]
    [InlineData("ext::sh -c touch% /tmp/pwned", "no protocol")]
    [InlineData("/srv/repo.git", "no protocol")]
    public async Task Acquire_NonHttpRepo_IsRefusedWhenFileUrlsAreOff(string repo, string what)
    {
        var driver = new GitStorageDriver(Options(), _commands, NullLogger<GitStorageDriver>.Instance) { AllowFileUrls = false };

        var act = () => driver.AcquireAsync(Request(new GitSource { Repo = repo }), CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should()
            .Be($"storage[0] (/data_git): storage[0].git.repo '{repo}' uses {what}; git storage clones over https (or http) only; give an https:// URL");
        _commands.Calls.Should().BeEmpty();
    }

    [Fact]
    public async Task Acquire_Again_ReplacesTheLeftoverClone()
    {
        var request = Request(new GitSource { Repo = _repository.FileUrl, Commit = _repository.First });
        var dir = await Driver().AcquireAsync(request, CancellationToken.None);
        await File.WriteAllTextAsync(Path.Combine(dir, "leftover.txt"), "from the last start");
        File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserExecute);

        var again = await Driver().AcquireAsync(request with { Mount = Mount(new GitSource { Repo = _repository.FileUrl }) }, CancellationToken.None);

        again.Should().Be(dir);
        File.Exists(Path.Combine(dir, "leftover.txt")).Should().BeFalse();
        (await Head(dir)).Should().Be(_repository.Second);
    }

    [Fact]
    public async Task Acquire_Checkout_IsReadableButNotWritableByOthers()
    {
        var dir = await Driver().AcquireAsync(Request(new GitSource { Repo = _repository.FileUrl }), CancellationToken.None);

        var file = File.GetUnixFileMode(Path.Combine(dir, "README.txt"));
        file.Should().HaveFlag(UnixFileMode.OtherRead);
        (file & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)).Should().Be(0);
        File.GetUnixFileMode(dir).Should().HaveFlag(UnixFileMode.OtherExecute);
    }

    [Fact]
    public async Task Acquire_GitMissing_SaysWhichSettingToFix()
    {
        var driver = new GitStorageDriver(Options("/nonexistent/git"), _commands, NullLogger<GitStorageDriver>.Instance) { AllowFileUrls = true };

        var act = () => driver.AcquireAsync(Request(new GitSource { Repo = _repository.FileUrl }), CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should()
            .Be("storage[0] (/data_git): git storage needs git on the node, and Agent:Storage:Git '/nonexistent/git' does not exist; install git or set Agent:Storage:Git");
    }

    [Fact]
    public async Task Acquire_OverHttpWithCredentials_ClonesAndKeepsThePasswordOutOfArgvAndTheClone()
    {
        await using var server = await GitHttpServer.StartAsync(_repository.Root, "alice", Password);
        var repo = $"{server.Address}/repo.git";

        var dir = await Driver().AcquireAsync(Request(new GitSource { Repo = repo, Username = "alice", Password = Password, Commit = _repository.First }), CancellationToken.None);

        (await Head(dir)).Should().Be(_repository.First);
        server.Requests.Should().Contain(r => r.User == "alice");
        _commands.Calls.SelectMany(c => c.Args).Should().NotContain(a => a.Contains(Password, StringComparison.Ordinal));
        FilesContaining(dir, Password).Should().BeEmpty();
        (await GitTestRepository.GitAsync(dir, "config", "remote.origin.url")).Should().Be(repo);
        _progress.Should().NotContain(p => p.Contains(Password, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Acquire_OverHttpWrongPassword_FailsWithoutShowingThePassword()
    {
        await using var server = await GitHttpServer.StartAsync(_repository.Root, "alice", Password);
        var repo = $"{server.Address}/repo.git";
        var request = Request(new GitSource { Repo = repo, Username = "alice", Password = "wrong-Pa55word" });

        var act = () => Driver().AcquireAsync(request, CancellationToken.None);

        var message = (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message;
        message.Should().StartWith($"storage[0] (/data_git): git clone of {repo} failed: ").And.Contain("Authentication failed")
            .And.EndWith("(check storage[0].git.username and storage[0].git.password)");
        message.Should().NotContain("wrong-Pa55word");
        server.Requests.Should().Contain(r => r.User == "!");
        Directory.Exists(Path.Combine(request.Context.Dir, "git", "0")).Should().BeFalse();
    }

    [Fact]
    public async Task Acquire_OverHttpWithoutCredentials_FailsPointingAtThem()
    {
        await using var server = await GitHttpServer.StartAsync(_repository.Root, "alice", Password);

        var act = () => Driver().AcquireAsync(Request(new GitSource { Repo = $"{server.Address}/repo.git" }), CancellationToken.None);

        (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should()
            .Contain("could not read Username").And.EndWith("(the repository asks for credentials; give storage[0].git.username and storage[0].git.password)");
    }

    [Fact]
    public async Task Acquire_TokenWithoutUsername_IsSentWithUserGit()
    {
        await using var server = await GitHttpServer.StartAsync(_repository.Root, "git", Password);

        var dir = await Driver().AcquireAsync(Request(new GitSource { Repo = $"{server.Address}/repo.git", Password = Password }), CancellationToken.None);

        (await Head(dir)).Should().Be(_repository.Second);
        server.Requests.Should().Contain(r => r.User == "git");
    }

    [Fact]
    public async Task Acquire_CredentialsInTheUrl_AreTakenOutOfItEverywhere()
    {
        await using var server = await GitHttpServer.StartAsync(_repository.Root, "alice", Password);
        var port = new Uri(server.Address).Port;
        var repo = $"http://127.0.0.1:{port}/repo.git";

        var dir = await Driver().AcquireAsync(Request(new GitSource { Repo = $"http://alice:{Password}@127.0.0.1:{port}/repo.git" }), CancellationToken.None);
        var failing = () => Driver().AcquireAsync(Request(new GitSource { Repo = $"http://alice:wrong%2Fpass@127.0.0.1:{port}/repo.git" }, index: 1), CancellationToken.None);

        (await Head(dir)).Should().Be(_repository.Second);
        (await GitTestRepository.GitAsync(dir, "config", "remote.origin.url")).Should().Be(repo);
        FilesContaining(dir, Password).Should().BeEmpty();
        _commands.Calls.SelectMany(c => c.Args).Should().NotContain(a => a.Contains(Password, StringComparison.Ordinal));
        _progress.Should().Contain(p => p.StartsWith($"storage[0]: {repo} at ", StringComparison.Ordinal));
        var message = (await failing.Should().ThrowAsync<InstanceFailedException>()).Which.Message;
        message.Should().StartWith($"storage[1] (/data_git): git clone of {repo} failed: ").And.NotContain("wrong").And.NotContain("alice:");
    }

    [Fact]
    public async Task Acquire_ClosedPort_FailsNamingTheRepository()
    {
        using var closed = ClosedPort();
        var repo = $"http://127.0.0.1:{((IPEndPoint)closed.LocalEndPoint!).Port}/repo.git";
        var driver = Driver(TimeSpan.FromMinutes(2));

        var act = () => driver.AcquireAsync(Request(new GitSource { Repo = repo, Password = Password }), CancellationToken.None);

        var message = (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message;
        message.Should().StartWith($"storage[0] (/data_git): git clone of {repo} failed: ").And.Contain("Failed to connect to 127.0.0.1 port")
            .And.EndWith("(check storage[0].git.repo and that the node can reach it)");
        message.Should().NotContain(Password);
    }

    [Fact]
    public async Task Acquire_ServerThatNeverAnswers_IsStoppedAtTheTimeout()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var held = new List<TcpClient>();
        using var stop = new CancellationTokenSource();
        var accepting = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    held.Add(await silent.AcceptTcpClientAsync(stop.Token));
                }
            }
            catch (OperationCanceledException)
            {
                // Test over.
            }
        });
        var repo = $"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}/repo.git";
        try
        {
            var act = () => Driver(TimeSpan.FromSeconds(3)).AcquireAsync(Request(new GitSource { Repo = repo }), CancellationToken.None);

            (await act.Should().ThrowAsync<InstanceFailedException>()).Which.Message.Should()
                .StartWith($"storage[0] (/data_git): git clone of {repo} did not finish within 3 s and was stopped; check that the node can reach the repository");
        }
        finally
        {
            await stop.CancelAsync();
            await accepting;
            held.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task Release_HasNothingToUndo()
    {
        var request = Request(new GitSource { Repo = _repository.FileUrl });
        var driver = Driver();
        var dir = await driver.AcquireAsync(request, CancellationToken.None);

        await driver.ReleaseAsync(request.Context.InstanceId, CancellationToken.None);
        await driver.ReleaseAsync("never-seen", CancellationToken.None);

        Directory.Exists(dir).Should().BeTrue("the instance directory, with the clone, is removed by the runner");
    }

    private GitStorageDriver Driver(TimeSpan? timeout = null) => new(Options(), _commands, NullLogger<GitStorageDriver>.Instance)
    {
        AllowFileUrls = true,
        Timeout = timeout ?? GitStorageDriver.DefaultTimeout,
    };

    private Microsoft.Extensions.Options.IOptions<AgentOptions> Options(string git = "/usr/bin/git")
        => Microsoft.Extensions.Options.Options.Create(new AgentOptions { StateDir = _stateDir, Storage = new StorageOptions { Git = git } });

    private StorageRequest Request(GitSource source, int index = 0)
    {
        var assignment = new InstanceAssignment { InstanceId = "git-test", Service = "svc", ServiceVersion = 1, Spec = new InstanceSpec() };
        var context = new InstanceContext(new InstanceRecord { Assignment = assignment }, new AgentPaths(Options()))
        {
            ReportProgress = _progress.Enqueue,
        };
        return new StorageRequest(context, Mount(source), index, _ => null);
    }

    private static Mount Mount(GitSource source) => new() { MountPath = "/data_git", ReadOnly = true, Git = source };

    private static Task<string> Head(string dir) => GitTestRepository.GitAsync(dir, "rev-parse", "HEAD");

    private static List<string> FilesContaining(string dir, string text) => Directory
        .EnumerateFiles(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint })
        .Where(f => File.ReadAllText(f).Contains(text, StringComparison.Ordinal))
        .ToList();

    /// <summary>
    /// A loopback port bound and never listening while the socket lives: connecting is refused, and no other test's
    /// listener can be given the port meanwhile (as a port probed and released could).
    /// </summary>
    private static Socket ClosedPort()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    /// <summary>The real command runner, recording every call's arguments.</summary>
    private sealed class RecordingRunner : ICommandRunner
    {
        private readonly CommandRunner _inner = new();

        public ConcurrentQueue<(string File, IReadOnlyList<string> Args)> Calls { get; } = new();

        public Task<CommandResult> RunAsync(string file, IEnumerable<string> arguments, CommandOptions? options = null, CancellationToken cancellationToken = default)
        {
            var args = arguments.ToList();
            Calls.Enqueue((file, args));
            return _inner.RunAsync(file, args, options, cancellationToken);
        }
    }
}
