using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Store;
using Eas.Node.Coordinator.Tests.Support;

namespace Eas.Node.Coordinator.Tests.Store;

public sealed class SqliteCoordinatorStoreTests : IDisposable
{
    private static readonly DateTimeOffset _now = new(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Commit_StaleRevision_ConflictsAndWritesNothing()
    {
        using var store = new SqliteCoordinatorStore(_dir.Path);
        (await store.CommitAsync(new StoreTransaction().Put(Service("demo", replicas: 1)))).Succeeded.Should().BeTrue();
        var read = (await store.GetServiceAsync("demo"))!;

        // Two writers read the same revision; the second must lose, and lose entirely.
        (await store.CommitAsync(new StoreTransaction().Put(read with { Replicas = 2 }))).Succeeded.Should().BeTrue();
        var loser = await store.CommitAsync(new StoreTransaction()
            .Put(Instance("demo-00000001", "demo"))
            .Put(read with { Replicas = 3 })
            .Append(Event("demo", "Scaled")));

        loser.Succeeded.Should().BeFalse();
        loser.Conflict.Should().Be("services/demo");
        (await store.GetServiceAsync("demo"))!.Replicas.Should().Be(2);
        (await store.ListInstancesAsync()).Should().BeEmpty();
        (await store.ListEventsAsync(null)).Should().BeEmpty();
    }

    [Fact]
    public async Task Commit_NewObjectWhoseKeyExists_Conflicts()
    {
        using var store = new SqliteCoordinatorStore(_dir.Path);
        (await store.CommitAsync(new StoreTransaction().Put(Service("demo", replicas: 1)))).Succeeded.Should().BeTrue();

        var again = await store.CommitAsync(new StoreTransaction().Put(Service("demo", replicas: 5)));

        again.Succeeded.Should().BeFalse();
        (await store.GetServiceAsync("demo"))!.Replicas.Should().Be(1);
    }

    [Fact]
    public async Task Commit_DeleteWithStaleRevision_Conflicts()
    {
        using var store = new SqliteCoordinatorStore(_dir.Path);
        await store.CommitAsync(new StoreTransaction().Put(Instance("demo-00000001", "demo")));
        var read = (await store.GetInstanceAsync("demo-00000001"))!;
        await store.CommitAsync(new StoreTransaction().Put(read with { State = InstanceState.Ready }));

        (await store.CommitAsync(new StoreTransaction().Delete(read))).Succeeded.Should().BeFalse();
        (await store.GetInstanceAsync("demo-00000001"))!.State.Should().Be(InstanceState.Ready);
    }

    [Fact]
    public async Task ServiceVersions_EveryVersionKept_OldestFirstAndWrittenOnce()
    {
        using var store = new SqliteCoordinatorStore(_dir.Path);
        for (var v = 1; v <= 3; v++)
        {
            (await store.CommitAsync(new StoreTransaction().Put(new ServiceVersionRecord("demo", v, $"{{\"v\":{v}}}", [], _now)))).Succeeded.Should().BeTrue();
        }

        var rewrite = await store.CommitAsync(new StoreTransaction().Put(new ServiceVersionRecord("demo", 2, "{}", [], _now)));

        rewrite.Succeeded.Should().BeFalse("a stored version never changes");
        (await store.ListServiceVersionsAsync("demo")).Select(v => v.SpecJson).Should().Equal("{\"v\":1}", "{\"v\":2}", "{\"v\":3}");
    }

    [Fact]
    public async Task Reopen_AfterDispose_KeepsEveryObjectAndRevisionsKeepGrowing()
    {
        long revision;
        using (var store = new SqliteCoordinatorStore(_dir.Path))
        {
            await store.CommitAsync(new StoreTransaction()
                .Put(Service("demo", replicas: 2))
                .Put(new ServiceVersionRecord("demo", 1, "{}", ["a warning"], _now))
                .Put(Instance("demo-0000000a", "demo") with { Node = "n1", State = InstanceState.Ready, Ip = "10.0.0.2", Port = 8000 })
                .Put(new NodeRecord { Name = "n1", CpuMillis = 4000, MemoryMib = 8192, Labels = new Dictionary<string, string> { ["zone"] = "a" }, LastHeartbeat = _now })
                .Append(Event("demo", "Created")));
            revision = (await store.GetServiceAsync("demo"))!.Revision;
        }

        using var reopened = new SqliteCoordinatorStore(_dir.Path);
        (await reopened.GetServiceAsync("demo"))!.Replicas.Should().Be(2);
        (await reopened.GetServiceVersionAsync("demo", 1))!.Warnings.Should().Equal("a warning");
        var instance = (await reopened.GetInstanceAsync("demo-0000000a"))!;
        instance.State.Should().Be(InstanceState.Ready);
        instance.Ip.Should().Be("10.0.0.2");
        (await reopened.GetNodeAsync("n1"))!.Labels.Should().ContainKey("zone").WhoseValue.Should().Be("a");
        (await reopened.ListEventsAsync("demo")).Should().ContainSingle().Which.Type.Should().Be("Created");
        var next = await reopened.CommitAsync(new StoreTransaction().Put(instance with { State = InstanceState.Stopped }));
        next.Revision.Should().BeGreaterThan(revision);
    }

    [Fact]
    public async Task ListEvents_WithLimitAndService_ReturnsLatestOfThatServiceOldestFirst()
    {
        using var store = new SqliteCoordinatorStore(_dir.Path);
        for (var i = 0; i < 5; i++)
        {
            await store.CommitAsync(new StoreTransaction().Append(Event("a", $"E{i}")).Append(Event("b", $"E{i}")));
        }

        var latest = await store.ListEventsAsync("a", limit: 2);
        latest.Select(e => e.Type).Should().Equal("E3", "E4");
        latest.Should().OnlyContain(e => e.Service == "a");
        latest[0].Seq.Should().BeLessThan(latest[1].Seq);

        var all = await store.ListEventsAsync(null, afterSeq: latest[0].Seq);
        all.Select(e => (e.Service, e.Type)).Should().Equal(("b", "E3"), ("a", "E4"), ("b", "E4"));
    }

    [Fact]
    public async Task Commit_Succeeded_RaisesCommittedWithEventsAndKinds()
    {
        using var store = new SqliteCoordinatorStore(_dir.Path);
        var seen = new List<StoreCommit>();
        store.Committed += seen.Add;

        var result = await store.CommitAsync(new StoreTransaction().Put(Instance("demo-00000001", "demo")).Append(Event("demo", "Created")));

        seen.Should().ContainSingle();
        seen[0].Kinds.Should().Be(StoreObjectKinds.Instances | StoreObjectKinds.Events);
        seen[0].Events.Should().ContainSingle().Which.Seq.Should().Be(result.Events[0].Seq).And.BeGreaterThan(0);
    }

    [Fact]
    public void Open_NewDatabase_UsesWriteAheadLog()
    {
        using var store = new SqliteCoordinatorStore(_dir.Path);
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={store.Path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        command.ExecuteScalar().Should().Be("wal");
    }

    internal static ServiceRecord Service(string name, int replicas) => new()
    {
        Name = name,
        Version = 1,
        Token = "token",
        Replicas = replicas,
        CreatedAt = _now,
        UpdatedAt = _now,
    };

    internal static InstanceRecord Instance(string id, string service) => new()
    {
        Id = id,
        Service = service,
        ServiceVersion = 1,
        CreatedAt = _now,
        ChangedAt = _now,
    };

    private static EventRecord Event(string service, string type) => new(0, _now, service, "", type, type.ToLowerInvariant(), "");
}
