namespace Eas.Node.Spec.Tests;

/// <summary>The storage kinds that bring data in: <c>oss</c>, <c>nfs</c>, <c>git</c> and <c>cache</c>, and <c>properties</c>.</summary>
public sealed class SpecStorageTests
{
    private static string Spec(params string[] entries) => $$"""
        { "metadata": { "name": "svc_one" },
          "containers": [{ "image": "host", "port": 8000, "script": "python3 app.py" }],
          "storage": [{{string.Join(", ", entries)}}] }
        """;

    private static SpecParseResult Parse(params string[] entries) => SpecParser.Parse(Spec(entries));

    private static SpecDiagnostic ErrorAt(SpecParseResult result, string path) =>
        result.Errors.Should().ContainSingle(e => e.Path == path, $"errors were: {string.Join(" | ", result.Errors)}").Subject;

    private static IReadOnlyList<StorageSpec> Valid(params string[] entries)
    {
        var result = Parse(entries);
        result.Errors.Should().BeEmpty();
        result.Warnings.Should().BeEmpty();
        return result.Spec!.Storage;
    }

    private const string OssEntry = """{ "mount_path": "/mnt/oss", "oss": { "path": "oss://models/llm/" } }""";

    // ---- oss ----

    [Fact]
    public void Parse_Oss_BucketPrefixEndpointSecret()
    {
        var storage = Valid(
            """{ "mount_path": "/mnt/data/", "oss": { "path": "oss://my-bucket.v2/models/qwen/", "readOnly": true, "endpoint": "minio.internal:9000", "secret": "team-a" } }""",
            """{ "mount_path": "/mnt/b", "oss": { "path": "oss://bucket" } }""",
            """{ "mount_path": "/mnt/c", "oss": { "path": "OSS://bucket/", "endpoint": "https://s3.example.com" } }""",
            """{ "mount_path": "/mnt/d", "oss": { "path": "oss://bucket/a/b", "endpoint": "", "secret": "" } }""",
            """{ "mount_path": "/mnt/e", "oss": { "path": "oss://bucket/x/", "endpoint": "http://[::1]:9000/" } }""");

        storage.Should().Equal(
            new StorageSpec { MountPath = "/mnt/data", Oss = new OssStorage("my-bucket.v2", "models/qwen", "minio.internal:9000", "team-a", true) },
            new StorageSpec { MountPath = "/mnt/b", Oss = new OssStorage("bucket", "", null, null, false) },
            new StorageSpec { MountPath = "/mnt/c", Oss = new OssStorage("bucket", "", "https://s3.example.com", null, false) },
            new StorageSpec { MountPath = "/mnt/d", Oss = new OssStorage("bucket", "a/b", null, null, false) },
            new StorageSpec { MountPath = "/mnt/e", Oss = new OssStorage("bucket", "x", "http://[::1]:9000/", null, false) });
        storage[0].Oss!.Path.Should().Be("oss://my-bucket.v2/models/qwen/");
        storage[1].Oss!.Path.Should().Be("oss://bucket/");
        storage.Select(s => s.Kind).Should().OnlyContain(k => k == "oss");
        storage.Select(s => s.ReadOnly).Should().Equal(true, false, false, false, false);
    }

    [Theory]
    [InlineData("{}", "storage[0].oss.path", "is required", "oss://bucket/folder/")]
    [InlineData("{ \"path\": 5 }", "storage[0].oss.path", "must be a string, got 5", "put it in quotes")]
    [InlineData("{ \"path\": \"bucket/x/\" }", "storage[0].oss.path", "\"bucket/x/\" is not an oss:// path", "oss://bucket/folder/")]
    [InlineData("{ \"path\": \"s3://bucket/x/\" }", "storage[0].oss.path", "is not an oss:// path", "\"oss://bucket/x/\"")]
    [InlineData("{ \"path\": \"oss://My-Bucket/x/\" }", "storage[0].oss.path", "\"My-Bucket\" is not a bucket name", "lowercase: \"oss://my-bucket/x/\"")]
    [InlineData("{ \"path\": \"oss://ab/\" }", "storage[0].oss.path", "3 to 63 lowercase letters", "oss://bucket/")]
    [InlineData("{ \"path\": \"oss://-bucket/\" }", "storage[0].oss.path", "starting and ending with a letter or digit", "oss://bucket/")]
    [InlineData("{ \"path\": \"oss://my..bucket/\" }", "storage[0].oss.path", "is not a bucket name", "oss://bucket/")]
    [InlineData("{ \"path\": \"oss:///x/\" }", "storage[0].oss.path", "\"\" is not a bucket name", "oss://bucket/")]
    [InlineData("{ \"path\": \"oss://bucket/a/../b/\" }", "storage[0].oss.path", "has a . or .. folder", "without . and ..")]
    [InlineData("{ \"path\": \"oss://bucket/a//b/\" }", "storage[0].oss.path", "empty folder name", "single slashes")]
    [InlineData("{ \"path\": \"oss://bucket/a\\nb/\" }", "storage[0].oss.path", "control character", "remove it")]
    [InlineData("{ \"path\": \"oss://bucket/\", \"readOnly\": \"true\" }", "storage[0].oss.readOnly", "must be true or false", "write true without quotes")]
    [InlineData("{ \"path\": \"oss://bucket/\", \"endpoint\": \"minio:9000/path\" }", "storage[0].oss.endpoint", "is not an object-store endpoint", "Agent:Storage:OssEndpoint")]
    [InlineData("{ \"path\": \"oss://bucket/\", \"endpoint\": \"ftp://minio\" }", "storage[0].oss.endpoint", "is not an object-store endpoint", "minio.internal:9000")]
    [InlineData("{ \"path\": \"oss://bucket/\", \"endpoint\": \"https://u:p@minio\" }", "storage[0].oss.endpoint", "is not an object-store endpoint", "minio.internal:9000")]
    [InlineData("{ \"path\": \"oss://bucket/\", \"endpoint\": \"minio:99999\" }", "storage[0].oss.endpoint", "is not an object-store endpoint", "minio.internal:9000")]
    [InlineData("{ \"path\": \"oss://bucket/\", \"endpoint\": \"min io\" }", "storage[0].oss.endpoint", "is not an object-store endpoint", "minio.internal:9000")]
    [InlineData("{ \"path\": \"oss://bucket/\", \"secret\": \"team a/b\" }", "storage[0].oss.secret", "is not a credential name", "never the key itself")]
    [InlineData("{ \"path\": \"oss://bucket/\", \"secret\": 7 }", "storage[0].oss.secret", "must be a string", "put it in quotes")]
    public void Parse_BadOss_ErrorAtPathWithFix(string oss, string path, string message, string fix)
    {
        var result = Parse($$"""{ "mount_path": "/mnt/oss", "oss": {{oss}} }""");

        result.Spec.Should().BeNull();
        var error = ErrorAt(result, path);
        error.Message.Should().Contain(message);
        error.Fix.Should().Contain(fix);
    }

    [Fact]
    public void Parse_OssEndpointWithUserInfo_ErrorHidesIt()
    {
        var result = Parse("""{ "mount_path": "/mnt/oss", "oss": { "path": "oss://bucket/", "endpoint": "https://key:31415926@minio:9000" } }""");

        ErrorAt(result, "storage[0].oss.endpoint").Message.Should().StartWith("\"https://***@minio:9000\" is not an object-store endpoint");
        result.Errors.Should().NotContain(e => e.ToString().Contains("31415926", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("accessKeyId")]
    [InlineData("accessKeySecret")]
    [InlineData("access_key")]
    [InlineData("SECRET_KEY")]
    [InlineData("ak")]
    [InlineData("Sk")]
    [InlineData("secretAccessKey")]
    public void Parse_OssInlineCredential_IsAnErrorThatNeverShowsTheValue(string key)
    {
        var result = Parse($$"""{ "mount_path": "/mnt/oss", "oss": { "path": "oss://bucket/", "{{key}}": "LTAI5tTopSecretValue" } }""");

        result.Spec.Should().BeNull();
        var error = ErrorAt(result, $"storage[0].oss.{key}");
        error.Message.Should().Contain($"\"{key}\" looks like an object-store credential").And.Contain("never come from the spec");
        error.Fix.Should().Contain("secrets file").And.Contain("\"secret\"");
        result.Errors.Concat(result.Warnings).Should().NotContain(d => d.ToString().Contains("TopSecret", StringComparison.Ordinal));
        result.Warnings.Should().BeEmpty();
    }

    [Fact]
    public void Parse_OssUnknownKey_IsAWarning()
    {
        var result = Parse("""{ "mount_path": "/mnt/oss", "oss": { "path": "oss://bucket/", "region": "x" } }""");

        result.IsValid.Should().BeTrue();
        result.Warnings.Should().ContainSingle().Which.Path.Should().Be("storage[0].oss.region");
    }

    // ---- nfs ----

    [Fact]
    public void Parse_Nfs_ServerPathReadOnly()
    {
        var storage = Valid(
            """{ "mount_path": "/data_nas", "nfs": { "server": "xxx.nas.aliyuncs.com", "path": "/", "readOnly": false } }""",
            """{ "mount_path": "/b", "nfs": { "server": "10.0.0.5", "path": "/exports//models/", "readOnly": true } }""",
            """{ "mount_path": "/c", "nfs": { "server": " fd00::5 " } }""");

        storage.Should().Equal(
            new StorageSpec { MountPath = "/data_nas", Nfs = new NfsStorage("xxx.nas.aliyuncs.com", "/", false) },
            new StorageSpec { MountPath = "/b", Nfs = new NfsStorage("10.0.0.5", "/exports/models", true) },
            new StorageSpec { MountPath = "/c", Nfs = new NfsStorage("fd00::5", "/", false) });
    }

    [Theory]
    [InlineData("{ \"path\": \"/\" }", "storage[0].nfs.server", "is required", "host name or IP address")]
    [InlineData("{ \"server\": \"nfs://nas.local/exports\" }", "storage[0].nfs.server", "has a scheme", "write \"nas.local\"")]
    [InlineData("{ \"server\": \"nas local\" }", "storage[0].nfs.server", "is not a host name or IP address", "\"path\"")]
    [InlineData("{ \"server\": \"nas.local:2049\" }", "storage[0].nfs.server", "is not a host name or IP address", "nfs.internal")]
    [InlineData("{ \"server\": \"nas.local/exports\" }", "storage[0].nfs.server", "is not a host name or IP address", "nfs.internal")]
    [InlineData("{ \"server\": \"\" }", "storage[0].nfs.server", "is not a host name or IP address", "nfs.internal")]
    [InlineData("{ \"server\": \"nas\", \"path\": \"exports\" }", "storage[0].nfs.path", "not an absolute path", "\"/exports\"")]
    [InlineData("{ \"server\": \"nas\", \"path\": \"/a/../b\" }", "storage[0].nfs.path", "has a .. segment", "without ..")]
    [InlineData("{ \"server\": \"nas\", \"path\": [] }", "storage[0].nfs.path", "must be a string", "give a string")]
    [InlineData("{ \"server\": \"nas\", \"readOnly\": 1 }", "storage[0].nfs.readOnly", "must be true or false", "give true or false")]
    public void Parse_BadNfs_ErrorAtPathWithFix(string nfs, string path, string message, string fix)
    {
        var result = Parse($$"""{ "mount_path": "/mnt/nfs", "nfs": {{nfs}} }""");

        result.Spec.Should().BeNull();
        var error = ErrorAt(result, path);
        error.Message.Should().Contain(message);
        error.Fix.Should().Contain(fix);
    }

    // ---- git ----

    [Fact]
    public void Parse_Git_DefaultsAndEveryField()
    {
        var storage = Valid(
            """{ "mount_path": "/data_git", "git": { "repo": "https://git.example.com/team/app.git", "username": "bot", "password": "pwd or token", "branch": "release/1.2", "commit": "3F2A9C1" } }""",
            """{ "mount_path": "/b", "git": { "repo": "http://10.0.0.7:3000/app.git", "readOnly": true } }""",
            """{ "mount_path": "/c", "git": { "repo": "file:///srv/git/app.git", "branch": "", "commit": "", "username": "", "password": "" } }""");

        storage.Should().Equal(
            new StorageSpec { MountPath = "/data_git", Git = new GitStorage("https://git.example.com/team/app.git", "release/1.2", "3f2a9c1", "bot", "pwd or token") },
            new StorageSpec { MountPath = "/b", Git = new GitStorage("http://10.0.0.7:3000/app.git", "master", null, null, null) },
            new StorageSpec { MountPath = "/c", Git = new GitStorage("file:///srv/git/app.git", "master", null, null, null) });
        storage.Should().OnlyContain(s => s.ReadOnly);
    }

    [Fact]
    public void Parse_GitReadOnlyFalse_IsAWarningAndStaysReadOnly()
    {
        var result = Parse("""{ "mount_path": "/code", "git": { "repo": "https://h.example/r.git", "readOnly": false } }""");

        result.IsValid.Should().BeTrue();
        result.Warnings.Should().ContainSingle().Which.ToString().Should().Be(
            "storage[0].git.readOnly: git mounts are always read-only; readOnly: false is ignored; remove readOnly");
        result.Spec!.Storage[0].ReadOnly.Should().BeTrue();
    }

    [Theory]
    [InlineData("{ }", "storage[0].git.repo", "is required", "https://git.example.com")]
    [InlineData("{ \"repo\": \"git@github.com:team/app.git\" }", "storage[0].git.repo", "is not an https://, http:// or file:// URL", "https://git.example.com")]
    [InlineData("{ \"repo\": \"ssh://git@host/app.git\" }", "storage[0].git.repo", "ssh and scp-style addresses are not supported", "https://git.example.com")]
    [InlineData("{ \"repo\": \"https://host/my app.git\" }", "storage[0].git.repo", "has a space", "https://git.example.com")]
    [InlineData("{ \"repo\": \"https://\" }", "storage[0].git.repo", "is not a valid URL", "https://git.example.com")]
    [InlineData("{ \"repo\": \"file://host/srv/app.git\" }", "storage[0].git.repo", "names a host", "file:///srv/git/models.git")]
    [InlineData("{ \"repo\": \"file:///srv/../app.git\" }", "storage[0].git.repo", "without ..", "file:///srv/git/models.git")]
    [InlineData("{ \"repo\": \"https://h/r.git\", \"branch\": \"feature x\" }", "storage[0].git.branch", "is not a branch name", "\"main\"")]
    [InlineData("{ \"repo\": \"https://h/r.git\", \"branch\": \"-rf\" }", "storage[0].git.branch", "is not a branch name", "\"main\"")]
    [InlineData("{ \"repo\": \"https://h/r.git\", \"branch\": \"a..b\" }", "storage[0].git.branch", "is not a branch name", "\"main\"")]
    [InlineData("{ \"repo\": \"https://h/r.git\", \"branch\": \"x.lock\" }", "storage[0].git.branch", "is not a branch name", "\"main\"")]
    [InlineData("{ \"repo\": \"https://h/r.git\", \"commit\": \"abc12\" }", "storage[0].git.commit", "7 to 40 hexadecimal digits", "git log")]
    [InlineData("{ \"repo\": \"https://h/r.git\", \"commit\": \"xyz1234\" }", "storage[0].git.commit", "is not a commit id", "git log")]
    [InlineData("{ \"repo\": \"https://h/r.git\", \"commit\": \"0123456789012345678901234567890123456789a\" }", "storage[0].git.commit", "is not a commit id", "git log")]
    [InlineData("{ \"repo\": \"https://h/r.git\", \"username\": \"a:b\" }", "storage[0].git.username", "without ':'", "\"password\"")]
    [InlineData("{ \"repo\": \"https://h/r.git\", \"username\": 5 }", "storage[0].git.username", "must be a string", "put it in quotes")]
    [InlineData("{ \"repo\": \"https://h/r.git\", \"readOnly\": \"no\" }", "storage[0].git.readOnly", "must be true or false", "give true or false")]
    public void Parse_BadGit_ErrorAtPathWithFix(string git, string path, string message, string fix)
    {
        var result = Parse($$"""{ "mount_path": "/code", "git": {{git}} }""");

        result.Spec.Should().BeNull();
        var error = ErrorAt(result, path);
        error.Message.Should().Contain(message);
        error.Fix.Should().Contain(fix);
    }

    [Theory]
    [InlineData("\"repo\": \"https://h/r.git\", \"password\": 31415926", "storage[0].git.password", "must be a string")]
    [InlineData("\"repo\": \"https://h/r.git\", \"password\": \"line1\\n31415926\"", "storage[0].git.password", "control character")]
    [InlineData("\"repo\": \"https://bot:31415926@h/r.git\"", "storage[0].git.repo", "has a user name or password in the URL")]
    [InlineData("\"repo\": \"https://31415926@h/r.git\"", "storage[0].git.repo", "has a user name or password in the URL")]
    [InlineData("\"repo\": \"ftp://bot:31415926@h/r.git\"", "storage[0].git.repo", "is not an https://")]
    public void Parse_GitSecrets_NeverInDiagnostics(string git, string path, string message)
    {
        var result = Parse($$"""{ "mount_path": "/code", "git": { {{git}} } }""");

        ErrorAt(result, path).Message.Should().Contain(message);
        result.Errors.Concat(result.Warnings).Should().NotContain(d => d.ToString().Contains("31415926", StringComparison.Ordinal));
    }

    [Fact]
    public void GitStorage_ToString_HidesThePassword()
    {
        var git = new GitStorage("https://h/r.git", "master", null, "bot", "hunter2");

        git.ToString().Should().Contain("bot").And.Contain("***").And.NotContain("hunter2");
        new StorageSpec { MountPath = "/c", Git = git }.ToString().Should().NotContain("hunter2");
    }

    // ---- cache ----

    [Fact]
    public void Parse_Cache_SourceUnderAnotherMountAndCapacities()
    {
        var storage = Valid(
            OssEntry,
            """{ "mount_path": "/srv", "host": { "path": "/srv/data" } }""",
            """{ "mount_path": "/nfs", "nfs": { "server": "nas" } }""",
            """{ "mount_path": "/code", "git": { "repo": "https://h/r.git" } }""",
            """{ "mount_path": "/model_dir", "cache": { "capacity": "200G", "path": "/mnt/oss/Qwen2.5-72B-Instruct/" } }""",
            """{ "mount_path": "/c1", "cache": { "path": "/srv", "capacity": "512Mi" } }""",
            """{ "mount_path": "/c2", "cache": { "path": "/nfs/a/./b", "capacity": "1.5T" } }""",
            """{ "mount_path": "/c3", "cache": { "path": "/code/weights", "capacity": "100GB" } }""",
            """{ "mount_path": "/c4", "cache": { "path": "/mnt/oss", "capacity": 2.5 } }""",
            """{ "mount_path": "/c5", "cache": { "path": "/mnt/oss/x" } }""",
            """{ "mount_path": "/c6", "cache": { "path": "/mnt/oss/y", "capacity": "1 gib" } }""");

        storage.Skip(4).Select(s => s.Cache).Should().Equal(
            new CacheStorage("/mnt/oss/Qwen2.5-72B-Instruct", 200 * 1024),
            new CacheStorage("/srv", 512),
            new CacheStorage("/nfs/a/b", 1536 * 1024),
            new CacheStorage("/code/weights", 100 * 1024),
            new CacheStorage("/mnt/oss", 2560),
            new CacheStorage("/mnt/oss/x", 0),
            new CacheStorage("/mnt/oss/y", 1024));
        storage.Skip(4).Should().OnlyContain(s => s.ReadOnly && s.Kind == "cache");
    }

    [Fact]
    public void Parse_CacheBeforeItsSource_IsFine()
    {
        Valid("""{ "mount_path": "/model", "cache": { "path": "/mnt/oss/m" } }""", OssEntry)[0].Cache.Should().Be(new CacheStorage("/mnt/oss/m", 0));
    }

    [Theory]
    [InlineData("{ \"capacity\": \"1G\" }", "storage[1].cache.path", "is required", "under the mount_path of a host, oss, nfs or git entry")]
    [InlineData("{ \"path\": \"mnt/oss\" }", "storage[1].cache.path", "is not an absolute path", "\"/mnt/oss\"")]
    [InlineData("{ \"path\": \"/mnt/oss/../etc\" }", "storage[1].cache.path", "has a .. segment", "without ..")]
    [InlineData("{ \"path\": \"/mnt/oss\", \"capacity\": \"200\" }", "storage[1].cache.capacity", "got the string \"200\"", "\"200G\"")]
    [InlineData("{ \"path\": \"/mnt/oss\", \"capacity\": \"200X\" }", "storage[1].cache.capacity", "\"200X\" is not a size", "\"200G\"")]
    [InlineData("{ \"path\": \"/mnt/oss\", \"capacity\": 0 }", "storage[1].cache.capacity", "0 is out of range", "remove it for the node's default")]
    [InlineData("{ \"path\": \"/mnt/oss\", \"capacity\": \"65537G\" }", "storage[1].cache.capacity", "out of range", "\"200G\"")]
    [InlineData("{ \"path\": \"/mnt/oss\", \"capacity\": true }", "storage[1].cache.capacity", "must be a number of GB or a size string, got true", "\"200G\"")]
    [InlineData("{ \"path\": \"/mnt/oss\", \"size\": 1 }", "storage[1].cache.size", "unknown key", "path, capacity")]
    public void Parse_BadCache_ErrorAtPathWithFix(string cache, string path, string message, string fix)
    {
        var result = Parse(OssEntry, $$"""{ "mount_path": "/model", "cache": {{cache}} }""");

        var diagnostic = result.Errors.Concat(result.Warnings).Should().ContainSingle(d => d.Path == path, string.Join(" | ", result.Errors)).Subject;
        diagnostic.Message.Should().Contain(message);
        diagnostic.Fix.Should().Contain(fix);
    }

    [Fact]
    public void Parse_CacheNotUnderAnyMount_ErrorNamesTheRuleAndTheCandidates()
    {
        var result = Parse(OssEntry, """{ "mount_path": "/tmp/x", "empty_dir": {} }""", """{ "mount_path": "/model", "cache": { "path": "/data/m" } }""");

        ErrorAt(result, "storage[2].cache.path").ToString().Should().Be(
            "storage[2].cache.path: /data/m is not under the mount_path of another storage entry; a cache copies a folder that another storage entry "
            + "of this spec mounts, and only a host, oss, nfs or git entry; set path to a folder under one of: /mnt/oss (storage[0].oss)");
    }

    [Fact]
    public void Parse_CacheWithNoDataMountAtAll_FixSaysToAddOne()
    {
        var result = Parse("""{ "mount_path": "/model", "cache": { "path": "/data/m" } }""");

        ErrorAt(result, "storage[0].cache.path").Fix.Should().Be(
            "add a host, oss, nfs or git storage entry that mounts the data, and set path to a folder under its mount_path");
    }

    [Theory]
    [InlineData("{ \"mount_path\": \"/scratch\", \"empty_dir\": {} }", "/scratch/m", "under storage[0] (/scratch), whose kind is empty_dir")]
    [InlineData("{ \"mount_path\": \"/other\", \"cache\": { \"path\": \"/mnt/oss/a\" } }", "/other/m", "under storage[0] (/other), whose kind is cache")]
    [InlineData("{ \"mount_path\": \"/mnt/oss/tmp\", \"empty_dir\": {} }", "/mnt/oss/tmp/m", "under storage[0] (/mnt/oss/tmp), whose kind is empty_dir")]
    public void Parse_CacheOfEmptyDirOrCache_IsAnError(string other, string source, string message)
    {
        var result = Parse(other, OssEntry, $$"""{ "mount_path": "/model", "cache": { "path": "{{source}}" } }""");

        var error = ErrorAt(result, "storage[2].cache.path");
        error.Message.Should().Contain(message).And.Contain("only a host, oss, nfs or git entry");
        error.Fix.Should().Contain("/mnt/oss (storage[1].oss)");
    }

    [Theory]
    [InlineData("/mnt/oss/cache", "/mnt/oss")]
    [InlineData("/mnt/oss/m", "/mnt/oss/m/weights")]
    public void Parse_CacheMountedInsideItsSourceOrTheOtherWay_IsAnError(string mountPath, string source)
    {
        var result = Parse(OssEntry, $$"""{ "mount_path": "{{mountPath}}", "cache": { "path": "{{source}}" } }""");

        var error = ErrorAt(result, "storage[1].cache.path");
        error.Message.Should().Contain("lie inside one another");
        error.Fix.Should().Contain("mount the cache somewhere else");
    }

    [Fact]
    public void Parse_CacheOfAnEntryWithAnError_ReportsOnlyThatEntrysError()
    {
        var result = Parse("""{ "mount_path": "/mnt/oss", "oss": { "path": "s3://b/x/" } }""", """{ "mount_path": "/model", "cache": { "path": "/mnt/oss/x" } }""");

        result.Errors.Select(e => e.Path).Should().Equal("storage[0].oss.path");
    }

    // ---- properties, kinds ----

    [Fact]
    public void Parse_Properties_AcceptedWithoutWarnings()
    {
        var result = Parse(
            """{ "mount_path": "/mnt/oss", "oss": { "path": "oss://bucket/m/" }, "properties": { "resource_type": "model", "resource_use": "base" } }""",
            """{ "mount_path": "/code", "properties": { "resource_type": "code" }, "git": { "repo": "https://h/r.git" } }""");

        result.Errors.Should().BeEmpty();
        result.Warnings.Should().BeEmpty();
        result.Spec!.Storage.Select(s => s.Kind).Should().Equal("oss", "git");
    }

    [Theory]
    [InlineData("\"properties\": 5", "storage[0].properties", "must be an object")]
    [InlineData("\"properties\": { \"resource_type\": 1 }", "storage[0].properties.resource_type", "must be a string")]
    public void Parse_BadProperties_IsAnError(string properties, string path, string message)
    {
        var result = Parse($$"""{ "mount_path": "/scratch", "empty_dir": {}, {{properties}} }""");

        ErrorAt(result, path).Message.Should().Contain(message);
    }

    [Fact]
    public void Parse_UnknownKeyInProperties_IsAWarning()
    {
        var result = Parse("""{ "mount_path": "/scratch", "empty_dir": {}, "properties": { "colour": "red" } }""");

        result.IsValid.Should().BeTrue();
        result.Warnings.Should().ContainSingle().Which.Path.Should().Be("storage[0].properties.colour");
    }

    [Theory]
    [InlineData("pvc")]
    [InlineData("cpfs")]
    [InlineData("dataset")]
    public void Parse_EasKindNotSupportedYet_ErrorListsTheSupportedKinds(string kind)
    {
        var result = Parse($$"""{ "mount_path": "/a", "{{kind}}": {} }""");

        var error = ErrorAt(result, $"storage[0].{kind}");
        error.Message.Should().Be($"storage kind \"{kind}\" is not supported yet; supported kinds: host, empty_dir, oss, nfs, git, cache");
        error.Fix.Should().Contain("\"oss\"").And.Contain("\"nfs\"");
    }

    [Theory]
    [InlineData("oss")]
    [InlineData("nfs")]
    [InlineData("git")]
    [InlineData("cache")]
    public void Parse_KindNotAnObject_IsAnError(string kind)
    {
        var result = Parse($$"""{ "mount_path": "/a", "{{kind}}": "x" }""");

        ErrorAt(result, $"storage[0].{kind}").Message.Should().Be("must be an object, got the string \"x\"");
    }

    // ---- writing, secrets, equality ----

    [Fact]
    public void ToJson_EveryKind_CanonicalAndParsedBack()
    {
        var spec = SpecParser.Parse(Spec(
            """{ "mount_path": "/mnt/oss/", "oss": { "path": "oss://bucket/a/b", "endpoint": "minio:9000", "secret": "team-a" } }""",
            """{ "mount_path": "/nfs", "nfs": { "server": "nas", "readOnly": true } }""",
            """{ "mount_path": "/code", "git": { "repo": "https://h/r.git", "commit": "ABCDEF12", "username": "bot", "password": "p-w" } }""",
            """{ "mount_path": "/model", "cache": { "path": "/mnt/oss/a", "capacity": "1.5G" } }""",
            """{ "mount_path": "/model2", "cache": { "path": "/nfs", "capacity": 3 } }""")).Spec!;

        var json = SpecWriter.ToJson(spec);

        var compact = string.Concat(json.Where(c => !char.IsWhiteSpace(c)));
        compact.Should().Contain("""{"mount_path":"/mnt/oss","oss":{"path":"oss://bucket/a/b/","readOnly":false,"endpoint":"minio:9000","secret":"team-a"}}""")
            .And.Contain("""{"mount_path":"/nfs","nfs":{"server":"nas","path":"/","readOnly":true}}""")
            .And.Contain("""{"mount_path":"/code","git":{"repo":"https://h/r.git","branch":"master","commit":"abcdef12","username":"bot","password":"p-w"}}""")
            .And.Contain("""{"mount_path":"/model","cache":{"path":"/mnt/oss/a","capacity":"1536Mi"}}""")
            .And.Contain("""{"mount_path":"/model2","cache":{"path":"/nfs","capacity":"3G"}}""");
        var back = SpecParser.Parse(json);
        back.Warnings.Should().BeEmpty();
        back.Spec.Should().Be(spec);
        SpecWriter.ToJson(back.Spec!).Should().Be(json);
    }

    [Fact]
    public void WithoutSecrets_DropsTokenAndGitPasswordsOnly()
    {
        var parsed = SpecParser.Parse(Spec(
            """{ "mount_path": "/code", "git": { "repo": "https://h/r.git", "username": "bot", "password": "hunter2" } }""",
            """{ "mount_path": "/pub", "git": { "repo": "https://h/p.git" } }""",
            OssEntry)).Spec!;
        var spec = parsed with { Token = "tok" };

        var shown = spec.WithoutSecrets();

        spec.HasStorageSecrets.Should().BeTrue();
        shown.HasStorageSecrets.Should().BeFalse();
        shown.Token.Should().BeNull();
        shown.Storage.Should().Equal(
            spec.Storage[0] with { Git = spec.Storage[0].Git! with { Password = null } },
            spec.Storage[1],
            spec.Storage[2]);
        SpecWriter.ToJson(shown).Should().NotContain("hunter2").And.NotContain("password");
        SpecWriter.ToJson(spec).Should().Contain("\"password\": \"hunter2\"");
    }

    [Fact]
    public void Equals_StorageSourceFieldChanged_IsNotEqual()
    {
        var oss = new StorageSpec { MountPath = "/m", Oss = new OssStorage("bucket", "p", "e:1", "s", false) };
        var nfs = new StorageSpec { MountPath = "/n", Nfs = new NfsStorage("nas", "/", false) };
        var git = new StorageSpec { MountPath = "/g", Git = new GitStorage("https://h/r.git", "master", "abcdef1", "u", "p") };
        var cache = new StorageSpec { MountPath = "/c", Cache = new CacheStorage("/m/x", 1) };
        var changed = new[]
        {
            oss with { Oss = oss.Oss! with { Bucket = "other" } }, oss with { Oss = oss.Oss! with { Prefix = "" } },
            oss with { Oss = oss.Oss! with { Endpoint = null } }, oss with { Oss = oss.Oss! with { Secret = null } },
            oss with { Oss = oss.Oss! with { ReadOnly = true } }, nfs with { Nfs = nfs.Nfs! with { Server = "x" } },
            nfs with { Nfs = nfs.Nfs! with { Path = "/x" } }, nfs with { Nfs = nfs.Nfs! with { ReadOnly = true } },
            git with { Git = git.Git! with { Repo = "file:///r" } }, git with { Git = git.Git! with { Branch = "main" } },
            git with { Git = git.Git! with { Commit = null } }, git with { Git = git.Git! with { Username = null } },
            git with { Git = git.Git! with { Password = "q" } }, cache with { Cache = cache.Cache! with { SourcePath = "/m" } },
            cache with { Cache = cache.Cache! with { CapacityMib = 2 } },
        };
        var originals = new[] { oss, nfs, git, cache };

        changed.Should().OnlyContain(c => !originals.Contains(c));
        (oss with { Oss = oss.Oss! with { } }).Should().Be(oss);
        (git with { Git = git.Git! with { } }).Should().Be(git);
    }
}
