using Eas.Node.Agent.Options;
using Eas.Node.Agent.State;
using Eas.Node.Contracts.V1;
using Microsoft.Extensions.Logging.Abstractions;

namespace Eas.Node.Agent.Tests.State;

public sealed class StateStoreTests : IDisposable
{
    private readonly string _stateDir = Directory.CreateTempSubdirectory("eas-state-").FullName;
    private readonly StateStore _store;

    public StateStoreTests()
    {
        _store = new StateStore(new AgentPaths(Microsoft.Extensions.Options.Options.Create(new AgentOptions { StateDir = _stateDir })), NullLogger<StateStore>.Instance);
        _store.EnsureLayout();
    }

    public void Dispose() => Directory.Delete(_stateDir, recursive: true);

    [Fact]
    public void Leftovers_ReturnsUnownedRecords_RemovesDirectoriesWithoutOne_AndSkipsOwnedOnes()
    {
        _store.Save(Record("svc-owned"));
        _store.Save(Record("svc-leftover"));
        var halfMade = _store.Paths.InstanceDir("svc-halfmade");
        Directory.CreateDirectory(Path.Combine(halfMade, "bundle"));

        var leftovers = _store.Leftovers(id => id == "svc-owned");

        leftovers.Select(r => r.InstanceId).Should().Equal("svc-leftover");
        Directory.Exists(halfMade).Should().BeFalse("a directory without a record was never prepared");
        Directory.Exists(_store.Paths.InstanceDir("svc-owned")).Should().BeTrue();
        Directory.Exists(_store.Paths.InstanceDir("svc-leftover")).Should().BeTrue("a stopping runner removes it once it has undone the rest");
    }

    [Fact]
    public void TryLoad_MissingOrUnreadableRecord_IsNull()
    {
        _store.TryLoad("svc-none").Should().BeNull();
        Directory.CreateDirectory(_store.Paths.InstanceDir("svc-bad"));
        File.WriteAllText(_store.Paths.RecordPath("svc-bad"), "{not json");
        _store.TryLoad("svc-bad").Should().BeNull();
        _store.Leftovers(_ => false).Should().BeEmpty();
        Directory.Exists(_store.Paths.InstanceDir("svc-bad")).Should().BeTrue("an unreadable record is left for an operator");
    }

    private static InstanceRecord Record(string id) => new() { Assignment = new InstanceAssignment { InstanceId = id, Service = "svc" }, Phase = RecordPhase.Running };
}
