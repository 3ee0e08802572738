using Eas.Node.Agent.Storage;

namespace Eas.Node.Agent.Tests.Storage;

public sealed class GitUrlTests
{
    [Fact]
    public void Parse_UserInfo_IsTakenOutAndUnescaped()
    {
        var url = GitUrl.Parse(" https://alice:p%40ss%2Fword@git.example.com:8443/team/models.git ");

        url.Should().Be(new GitUrl("https://git.example.com:8443/team/models.git", "https", "alice", "p@ss/word"));
    }

    [Fact]
    public void Parse_UnescapedAtInThePassword_TakesEverythingUpToTheLastAt()
    {
        GitUrl.Parse("https://bob:p@ss@host/r.git").Should().Be(new GitUrl("https://host/r.git", "https", "bob", "p@ss"));
    }

    [Theory]
    [InlineData("https://host/r.git", "https://host/r.git", "https", null)]
    [InlineData("HTTP://token@host/r.git", "HTTP://host/r.git", "http", "token")]
    [InlineData("git@host:team/r.git", "git@host:team/r.git", "ssh", null)]
    [InlineData("/srv/r.git", "/srv/r.git", "", null)]
    [InlineData("https://host/path@with-at/r.git", "https://host/path@with-at/r.git", "https", null)]
    public void Parse_Variants(string repo, string expectedUrl, string scheme, string? user)
    {
        var url = GitUrl.Parse(repo);

        url.Url.Should().Be(expectedUrl);
        url.Scheme.Should().Be(scheme);
        url.Username.Should().Be(user);
        url.Password.Should().BeNull();
    }

    [Fact]
    public void Redact_RemovesUserInfoAndSecretsInAnyForm()
    {
        var text = "fatal: unable to access 'https://alice:top%2Fsecret@host/r.git/': top/secret rejected";

        var redacted = GitUrl.Redact(text, "top/secret");

        redacted.Should().Be("fatal: unable to access 'https://host/r.git/': *** rejected");
    }

    [Fact]
    public void Redact_NoSecrets_LeavesTextWithoutUrlsAlone()
    {
        GitUrl.Redact("fatal: Remote branch nope not found in upstream origin", null, "").Should().Be("fatal: Remote branch nope not found in upstream origin");
    }
}
