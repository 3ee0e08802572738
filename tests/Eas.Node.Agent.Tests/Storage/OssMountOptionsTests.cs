using Eas.Node.Agent.Storage;

namespace Eas.Node.Agent.Tests.Storage;

public sealed class OssMountOptionsTests
{
    // What s3fs 1.90 wrote to its log file for keys s3rver does not know.
    private const string InvalidKeysLog = """
        2026-12-01T20:57:54.967Z [INF] curl.cpp:InitMimeType(434): Loaded mime information from /etc/mime.types
        2026-12-01T20:57:54.977Z [INF] s3fs.cpp:s3fs_init(3382): init v1.90(commit:unknown) with GnuTLS(gcrypt)
        2026-12-01T20:57:54.992Z [ERR] curl.cpp:RequestPerform(2363): HTTP response code 403, returning EPERM. Body Text: <?xml version="1.0" encoding="UTF-8"?>
        <Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message><AWSAccessKeyId>AKIDSECRET</AWSAccessKeyId></Error>
        2026-12-01T20:57:54.992Z [CRT] s3fs.cpp:s3fs_check_service(3575): Failed to connect by sigv4, so retry to connect by signature version 2.
        2026-12-01T20:57:54.995Z [CRT] s3fs.cpp:s3fs_check_service(3590): invalid credentials(host=http://127.0.0.1:45905) - result of checking service.
        2026-12-01T20:57:54.995Z [ERR] s3fs.cpp:s3fs_exit_fuseloop(3372): Exiting FUSE event loop due to errors
        """;

    [Theory]
    [InlineData("oss-cn-shanghai-internal.aliyuncs.com", "https://oss-cn-shanghai-internal.aliyuncs.com")]
    [InlineData("minio.internal:9000", "https://minio.internal:9000")]
    [InlineData("http://127.0.0.1:4568", "http://127.0.0.1:4568")]
    [InlineData("http://127.0.0.1:4568/", "http://127.0.0.1:4568")]
    [InlineData("HTTPS://S3.Example.com:443", "https://s3.example.com")]
    [InlineData(" https://s3.example.com ", "https://s3.example.com")]
    [InlineData("http://[::1]:9000", "http://[::1]:9000")]
    [InlineData("", null)]
    [InlineData("ftp://files.internal", null)]
    [InlineData("https://s3.example.com/bucket", null)]
    [InlineData("https://user:pw@s3.example.com", null)]
    [InlineData("https://s3.example.com?x=1", null)]
    [InlineData("s3.example.com,allow_root", null)]
    [InlineData("s3 example.com", null)]
    public void EndpointUrl_AcceptsHostPortAndHttpUrls(string endpoint, string? expected) =>
        OssMountOptions.EndpointUrl(endpoint).Should().Be(expected);

    [Theory]
    [InlineData("models", "", "models")]
    [InlineData("models", "qwen/7b", "models:/qwen/7b")]
    [InlineData("models", "/qwen/", "models:/qwen")]
    public void Source_IsBucketOrBucketColonFolder(string bucket, string prefix, string expected) =>
        OssMountOptions.Source(bucket, prefix).Should().Be(expected);

    [Theory]
    [InlineData("models", true)]
    [InlineData("my-bucket.v2", true)]
    [InlineData("-o", false)]
    [InlineData("Models", false)]
    [InlineData("a", false)]
    public void IsBucket_KeepsOptionsOutOfS3fsArguments(string bucket, bool expected) => OssMountOptions.IsBucket(bucket).Should().Be(expected);

    [Fact]
    public void Options_ReadOnly()
    {
        var options = OssMountOptions.Options("http://127.0.0.1:4568", "/state/mounts/oss-1.passwd", "/state/mounts/oss-1.log", readOnly: true);

        options.Split(',').Should().Equal(
            "url=http://127.0.0.1:4568", "use_path_request_style", "passwd_file=/state/mounts/oss-1.passwd", "logfile=/state/mounts/oss-1.log",
            "dbglevel=warn", "allow_other", "umask=0022", "mp_umask=0022", "parallel_count=8", "multipart_size=64", "connect_timeout=10", "retries=3", "ro");
    }

    [Fact]
    public void Options_ReadWrite_HasNoRo()
    {
        var options = OssMountOptions.Options("https://s3.example.com", "/s/p", "/s/l", readOnly: false);

        options.Split(',').Should().NotContain("ro").And.Contain("url=https://s3.example.com");
    }

    [Fact]
    public void Options_RefusesACommaInAPath()
    {
        var act = () => OssMountOptions.Options("https://s3.example.com", "/state,x/p", "/s/l", readOnly: true);

        act.Should().Throw<ArgumentException>().WithMessage("*contains a comma*Agent:StateDir*");
    }

    [Fact]
    public void Summarize_TakesTheConclusionAndTheStoresAnswer_AndRedactsKeys()
    {
        var said = OssMountOptions.Summarize(InvalidKeysLog, "", ["AKIDSECRET", "45905"]);

        said.Should().Be("invalid credentials(host=http://127.0.0.1:***) - result of checking service; the store answered InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records");
    }

    [Fact]
    public void Summarize_UnreachableEndpoint_SaysSo()
    {
        const string log = """
            2026-12-01T21:09:59.130Z [CRT] s3fs_logger.cpp:LowSetLogLevel(240): change debug level from [CRT] to [WAN]
            2026-12-01T21:09:59.152Z [ERR] curl.cpp:RequestPerform(2416): ### CURLE_COULDNT_CONNECT
            2026-12-01T21:10:11.155Z [ERR] curl.cpp:RequestPerform(2533): ### giving up
            2026-12-01T21:10:11.155Z [ERR] curl.cpp:CheckBucket(3421): Check bucket failed, S3 response:
            2026-12-01T21:10:11.155Z [CRT] s3fs.cpp:s3fs_check_service(3597): unable to connect(host=http://127.0.0.1:9) - result of checking service.
            2026-12-01T21:10:11.155Z [ERR] s3fs.cpp:s3fs_exit_fuseloop(3372): Exiting FUSE event loop due to errors
            """;

        OssMountOptions.Summarize(log, "", []).Should().Be("unable to connect(host=http://127.0.0.1:9) - result of checking service");
    }

    [Fact]
    public void Summarize_WithoutALog_UsesStderr()
    {
        var said = OssMountOptions.Summarize("", "s3fs: MOUNTPOINT directory /x is not empty. if you are sure this is safe, can use the 'nonempty' mount option.\n", []);

        said.Should().StartWith("s3fs: MOUNTPOINT directory /x is not empty. if you are sure");
    }

    [Fact]
    public void Summarize_WithNothing_SaysSo() => OssMountOptions.Summarize("", "", []).Should().Be("s3fs stopped without saying why");
}
