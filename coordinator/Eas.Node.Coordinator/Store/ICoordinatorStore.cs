namespace Eas.Node.Coordinator.Store;

/// <summary>
/// The coordinator's state: versioned services, service versions, instances, nodes, and an append-only
/// event log. Reads return snapshots; every write goes through <see cref="CommitAsync"/>, a small
/// transaction of compare-and-set operations on the revisions the caller read. This is the shape of an
/// etcd transaction (compare <c>mod_revision</c>, then put/delete), so SQLite is one implementation and
/// etcd can be another.
/// </summary>
public interface ICoordinatorStore
{
    /// <summary>Raised after every successful commit, on the committing thread; handlers must only signal.</summary>
    event Action<StoreCommit>? Committed;

    /// <summary>Every service.</summary>
    Task<IReadOnlyList<ServiceRecord>> ListServicesAsync(CancellationToken cancellationToken = default);

    /// <summary>One service, or null.</summary>
    Task<ServiceRecord?> GetServiceAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>One version of a service's spec, or null.</summary>
    Task<ServiceVersionRecord?> GetServiceVersionAsync(string service, int version, CancellationToken cancellationToken = default);

    /// <summary>Every stored version of a service's spec, oldest first.</summary>
    Task<IReadOnlyList<ServiceVersionRecord>> ListServiceVersionsAsync(string service, CancellationToken cancellationToken = default);

    /// <summary>Every instance, or those of one service.</summary>
    Task<IReadOnlyList<InstanceRecord>> ListInstancesAsync(string? service = null, CancellationToken cancellationToken = default);

    /// <summary>One instance, or null.</summary>
    Task<InstanceRecord?> GetInstanceAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Every node.</summary>
    Task<IReadOnlyList<NodeRecord>> ListNodesAsync(CancellationToken cancellationToken = default);

    /// <summary>One node, or null.</summary>
    Task<NodeRecord?> GetNodeAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Every service group.</summary>
    Task<IReadOnlyList<GroupRecord>> ListGroupsAsync(CancellationToken cancellationToken = default);

    /// <summary>One group, or null.</summary>
    Task<GroupRecord?> GetGroupAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Events of one service (or all when null) with seq greater than <paramref name="afterSeq"/>, oldest first; the latest <paramref name="limit"/> when it is above 0.</summary>
    Task<IReadOnlyList<EventRecord>> ListEventsAsync(string? service, long afterSeq = 0, int limit = 0, CancellationToken cancellationToken = default);

    /// <summary>Applies every operation of <paramref name="transaction"/> or none; durable on disk when it returns success.</summary>
    Task<CommitResult> CommitAsync(StoreTransaction transaction, CancellationToken cancellationToken = default);
}

/// <summary>What a successful commit changed, for watchers (the reconciler, the endpoint feed, event streams).</summary>
/// <param name="Revision">The store revision the commit produced.</param>
/// <param name="Kinds">Which kinds of object it wrote.</param>
/// <param name="Events">The events it appended, with their sequence numbers.</param>
public sealed record StoreCommit(long Revision, StoreObjectKinds Kinds, IReadOnlyList<EventRecord> Events);

/// <summary>Kinds of stored object.</summary>
[Flags]
public enum StoreObjectKinds
{
    /// <summary>Nothing.</summary>
    None = 0,

    /// <summary>Services and their versions.</summary>
    Services = 1,

    /// <summary>Instances.</summary>
    Instances = 2,

    /// <summary>Nodes.</summary>
    Nodes = 4,

    /// <summary>Events.</summary>
    Events = 8,

    /// <summary>Service groups.</summary>
    Groups = 16,
}

/// <summary>The outcome of a commit.</summary>
/// <param name="Succeeded">False when a compare failed; nothing was written then.</param>
/// <param name="Revision">The new store revision on success.</param>
/// <param name="Events">The appended events with their sequence numbers.</param>
/// <param name="Conflict">On failure, the key whose revision differed from the expected one.</param>
public sealed record CommitResult(bool Succeeded, long Revision, IReadOnlyList<EventRecord> Events, string? Conflict)
{
    /// <summary>A failed compare on <paramref name="key"/>.</summary>
    public static CommitResult Conflicted(string key) => new(false, 0, [], key);
}

/// <summary>
/// A list of compare-and-set writes applied atomically. Each put or delete carries the revision the
/// caller read (<see cref="IVersioned.Revision"/>; 0 means "must not exist").
/// </summary>
public sealed class StoreTransaction
{
    private readonly List<StoreOperation> _operations = [];

    /// <summary>The operations in order.</summary>
    public IReadOnlyList<StoreOperation> Operations => _operations;

    /// <summary>True when there is nothing to commit.</summary>
    public bool IsEmpty => _operations.Count == 0;

    /// <summary>Writes a service if its stored revision is still <c>service.Revision</c>.</summary>
    public StoreTransaction Put(ServiceRecord service) => Add(new StoreOperation.PutService(service));

    /// <summary>Adds a spec version; fails if that version exists.</summary>
    public StoreTransaction Put(ServiceVersionRecord version) => Add(new StoreOperation.PutServiceVersion(version));

    /// <summary>Writes an instance if its stored revision is still <c>instance.Revision</c>.</summary>
    public StoreTransaction Put(InstanceRecord instance) => Add(new StoreOperation.PutInstance(instance));

    /// <summary>Writes a node if its stored revision is still <c>node.Revision</c>.</summary>
    public StoreTransaction Put(NodeRecord node) => Add(new StoreOperation.PutNode(node));

    /// <summary>Deletes a service and all its versions if its stored revision is still <c>service.Revision</c>.</summary>
    public StoreTransaction Delete(ServiceRecord service) => Add(new StoreOperation.DeleteService(service.Name, service.Revision));

    /// <summary>Deletes an instance if its stored revision is still <c>instance.Revision</c>.</summary>
    public StoreTransaction Delete(InstanceRecord instance) => Add(new StoreOperation.DeleteInstance(instance.Id, instance.Revision));

    /// <summary>Writes a group if its stored revision is still <c>group.Revision</c> (0: it must not exist yet).</summary>
    public StoreTransaction Put(GroupRecord group) => Add(new StoreOperation.PutGroup(group));

    /// <summary>Deletes a group if its stored revision is still <c>group.Revision</c>.</summary>
    public StoreTransaction Delete(GroupRecord group) => Add(new StoreOperation.DeleteGroup(group.Name, group.Revision));

    /// <summary>Appends an event (its Seq is assigned by the store).</summary>
    public StoreTransaction Append(EventRecord record) => Add(new StoreOperation.AppendEvent(record));

    /// <summary>Adds every operation of <paramref name="other"/>, in order, after this one's.</summary>
    public StoreTransaction Include(StoreTransaction other)
    {
        ArgumentNullException.ThrowIfNull(other);
        _operations.AddRange(other._operations);
        return this;
    }

    private StoreTransaction Add(StoreOperation operation)
    {
        _operations.Add(operation);
        return this;
    }
}

/// <summary>One operation of a <see cref="StoreTransaction"/>.</summary>
public abstract record StoreOperation
{
    private StoreOperation()
    {
    }

    /// <summary>Put a service (compare on its revision).</summary>
    public sealed record PutService(ServiceRecord Service) : StoreOperation;

    /// <summary>Add a spec version (must not exist).</summary>
    public sealed record PutServiceVersion(ServiceVersionRecord Version) : StoreOperation;

    /// <summary>Put an instance (compare on its revision).</summary>
    public sealed record PutInstance(InstanceRecord Instance) : StoreOperation;

    /// <summary>Put a node (compare on its revision).</summary>
    public sealed record PutNode(NodeRecord Node) : StoreOperation;

    /// <summary>Delete a service and its versions (compare on its revision).</summary>
    public sealed record DeleteService(string Name, long ExpectedRevision) : StoreOperation;

    /// <summary>Delete an instance (compare on its revision).</summary>
    public sealed record DeleteInstance(string Id, long ExpectedRevision) : StoreOperation;

    /// <summary>Put a group (compare on its revision).</summary>
    public sealed record PutGroup(GroupRecord Group) : StoreOperation;

    /// <summary>Delete a group (compare on its revision).</summary>
    public sealed record DeleteGroup(string Name, long ExpectedRevision) : StoreOperation;

    /// <summary>Append an event.</summary>
    public sealed record AppendEvent(EventRecord Event) : StoreOperation;
}
