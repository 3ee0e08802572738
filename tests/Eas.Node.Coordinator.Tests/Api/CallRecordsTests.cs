using System.Text;
using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Api;
using Eas.Node.Coordinator.Hosting;
using Eas.Node.Coordinator.Tests.Support;
using Grpc.Core;

namespace Eas.Node.Coordinator.Tests.Api;

/// <summary>ListCallRecords over the file sink's rotated JSON Lines files, and the Coordinator:RecordsDirectory option.</summary>
public sealed class CallRecordsTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private TestCoordinator _coordinator = null!;

    private string Records => Path.Combine(_dir.Path, "records-here");

    private Services.ServicesClient Api => _coordinator.Services;

    public async Task InitializeAsync() =>
        _coordinator = await TestCoordinator.StartAsync(Path.Combine(_dir.Path, "data"), configure: o => o.RecordsDirectory = Records);

    public async Task DisposeAsync()
    {
        await _coordinator.DisposeAsync();
        _dir.Dispose();
    }

    private static string Record(int n) => $$"""{"time":"2025-01-01T00:00:{{n % 60:00}}.000Z","service":"svc","method":"POST","path":"/n/{{n}}","status":200}""";

    /// <summary>Records 1-25: .jsonl.2 holds 1-10, .jsonl.1 holds 11-20, .jsonl holds 21-25 and a record still being written.</summary>
    private void WriteRotated(string service = "svc")
    {
        Directory.CreateDirectory(Records);
        File.WriteAllText(Path.Combine(Records, $"{service}.jsonl.2"), string.Concat(Enumerable.Range(1, 10).Select(n => Record(n) + "\n")));
        File.WriteAllText(Path.Combine(Records, $"{service}.jsonl.1"), string.Concat(Enumerable.Range(11, 10).Select(n => Record(n) + "\n")));
        File.WriteAllText(Path.Combine(Records, $"{service}.jsonl"), string.Concat(Enumerable.Range(21, 5).Select(n => Record(n) + "\n")) + """{"time":"2025-01-01T00:01""");
    }

    private static IEnumerable<int> Numbers(ListCallRecordsResponse response) =>
        response.Records.Select(r => int.Parse(r[(r.IndexOf("/n/", StringComparison.Ordinal) + 3)..r.IndexOf("\",\"status", StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public async Task ListCallRecords_AcrossRotations_NewestNOldestFirst()
    {
        WriteRotated();
        await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = GroupTrafficTests.Member("svc", null) });

        var twelve = await Api.ListCallRecordsAsync(new ListCallRecordsRequest { Service = "svc", Limit = 12 });
        var byDefault = await Api.ListCallRecordsAsync(new ListCallRecordsRequest { Service = "svc" });
        var all = await Api.ListCallRecordsAsync(new ListCallRecordsRequest { Service = "svc", Limit = 1000 });

        Numbers(twelve).Should().Equal(Enumerable.Range(14, 12));
        Numbers(byDefault).Should().Equal(Enumerable.Range(6, 20), "20 is the default");
        Numbers(all).Should().Equal(Enumerable.Range(1, 25), "the unfinished last line is left out");
        twelve.Records[0].Should().Be(Record(14), "records come back as the gateway wrote them");
        twelve.File.Should().Be(Path.Combine(Records, "svc.jsonl"));
    }

    [Fact]
    public async Task ListCallRecords_DeletedServiceWithFiles_StillReadable()
    {
        WriteRotated("gone_svc");

        var records = await Api.ListCallRecordsAsync(new ListCallRecordsRequest { Service = "gone_svc", Limit = 2 });

        Numbers(records).Should().Equal(24, 25);
    }

    [Fact]
    public async Task ListCallRecords_ServiceWithoutRecords_Empty()
    {
        await Api.CreateServiceAsync(new CreateServiceRequest { SpecJson = GroupTrafficTests.Member("quiet", null) });

        (await Api.ListCallRecordsAsync(new ListCallRecordsRequest { Service = "quiet" })).Records.Should().BeEmpty();
    }

    [Theory]
    [InlineData("nope", 0, StatusCode.NotFound, "service 'nope' does not exist and has no call records")]
    [InlineData("../etc", 0, StatusCode.InvalidArgument, "is not a service name")]
    [InlineData("svc", -1, StatusCode.InvalidArgument, "limit: -1 is out of range; give 1 to 10000, or 0 for the latest 20")]
    [InlineData("svc", 10001, StatusCode.InvalidArgument, "limit: 10001 is out of range")]
    [InlineData("", 0, StatusCode.InvalidArgument, "must not be empty")]
    public async Task ListCallRecords_BadRequests_SayWhy(string service, int limit, StatusCode code, string detail)
    {
        WriteRotated();

        var error = (await FluentActions.Awaiting(() => Api.ListCallRecordsAsync(new ListCallRecordsRequest { Service = service, Limit = limit }).ResponseAsync)
            .Should().ThrowAsync<RpcException>()).Which;

        error.StatusCode.Should().Be(code);
        error.Status.Detail.Should().Contain(detail);
    }

    [Fact]
    public void ReadNewest_LongLinesAcrossChunks_CrLfAndBlankLines()
    {
        Directory.CreateDirectory(Records);
        var long1 = "{\"body\":\"" + new string('a', 150_000) + "\"}";
        var long2 = "{\"body\":\"" + new string('é', 70_000) + "\"}";
        File.WriteAllText(Path.Combine(Records, "big.jsonl"), "{\"n\":1}\r\n\n" + long1 + "\n" + long2 + "\n\n{\"n\":2}\n", new UTF8Encoding(false));

        var records = CallRecordFiles.ReadNewest(Records, "big", 10);

        records.Should().Equal("{\"n\":1}", long1, long2, "{\"n\":2}");
        CallRecordFiles.ReadNewest(Records, "big", 2).Should().Equal(long2, "{\"n\":2}");
        CallRecordFiles.ReadNewest(Records, "big", 0).Should().BeEmpty();
    }

    [Fact]
    public void Files_ActiveThenRotationsByNumber_OtherFilesIgnored()
    {
        Directory.CreateDirectory(Records);
        foreach (var name in new[] { "svc.jsonl", "svc.jsonl.10", "svc.jsonl.2", "svc.jsonl.1", "svc.jsonl.gz", "svc.jsonl.1.tmp", "svc_two.jsonl", "other.jsonl.1" })
        {
            File.WriteAllText(Path.Combine(Records, name), "{}\n");
        }

        CallRecordFiles.Files(Records, "svc").Select(Path.GetFileName).Should().Equal("svc.jsonl", "svc.jsonl.1", "svc.jsonl.2", "svc.jsonl.10");
        CallRecordFiles.Files(Path.Combine(Records, "missing"), "svc").Should().BeEmpty();
    }

    [Fact]
    public void RecordsDirectory_DefaultsUnderDataDir_AndMustBeAbsolute()
    {
        new CoordinatorOptions { DataDir = "/srv/eas" }.EffectiveRecordsDirectory.Should().Be("/srv/eas/records");
        new CoordinatorOptions { DataDir = "/srv/eas", RecordsDirectory = "/var/log/eas" }.EffectiveRecordsDirectory.Should().Be("/var/log/eas");

        CoordinatorOptionsValidator.Check(new CoordinatorOptions { RecordsDirectory = "records" })
            .Should().ContainSingle().Which.Should().StartWith("Coordinator:RecordsDirectory: 'records' must be an absolute path;");
        CoordinatorOptionsValidator.Check(new CoordinatorOptions()).Should().BeEmpty();
        CoordinatorConfiguration.Load(["--Coordinator:RecordsDirectory=/var/log/eas"]).Options!.RecordsDirectory.Should().Be("/var/log/eas");
    }
}
