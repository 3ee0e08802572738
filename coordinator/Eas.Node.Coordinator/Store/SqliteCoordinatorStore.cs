using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Data.Sqlite;

namespace Eas.Node.Coordinator.Store;

/// <summary>
/// The embedded store: one SQLite file (<c>coordinator.db</c>) in WAL mode with <c>synchronous=FULL</c>,
/// so a commit that returned is on disk even if the process is killed right after. Objects are JSON
/// documents keyed like etcd keys, each with the store revision of its last write.
/// </summary>
public sealed class SqliteCoordinatorStore : ICoordinatorStore, IDisposable
{
    /// <summary>The database file name inside the data folder.</summary>
    public const string FileName = "coordinator.db";

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
        INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', 0);
        CREATE TABLE IF NOT EXISTS services (name TEXT PRIMARY KEY, mod_revision INTEGER NOT NULL, data TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS service_versions (name TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (name, version));
        CREATE TABLE IF NOT EXISTS instances (id TEXT PRIMARY KEY, service TEXT NOT NULL, mod_revision INTEGER NOT NULL, data TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS instances_service ON instances (service);
        CREATE TABLE IF NOT EXISTS nodes (name TEXT PRIMARY KEY, mod_revision INTEGER NOT NULL, data TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, service TEXT NOT NULL, data TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS events_service ON events (service, seq);
        CREATE TABLE IF NOT EXISTS groups (name TEXT PRIMARY KEY, mod_revision INTEGER NOT NULL, data TEXT NOT NULL);
        """;

    // One connection, one lock: SQLite serializes writers anyway, and every statement here takes
    // microseconds, so a single connection keeps the order of commits obvious and the file handle owned.
    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private bool _disposed;

    /// <summary>Opens (creating when needed) the database in <paramref name="dataDir"/>.</summary>
    public SqliteCoordinatorStore(string dataDir)
    {
        Directory.CreateDirectory(dataDir);
        Path = System.IO.Path.Combine(dataDir, FileName);
        _connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString());
        _connection.Open();
        Execute("PRAGMA journal_mode=WAL;");
        Execute("PRAGMA synchronous=FULL;");
        Execute("PRAGMA busy_timeout=5000;");
        Execute(Schema);
    }

    /// <inheritdoc />
    public event Action<StoreCommit>? Committed;

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public Task<IReadOnlyList<ServiceRecord>> ListServicesAsync(CancellationToken cancellationToken = default) =>
        ReadListAsync("SELECT mod_revision, data FROM services ORDER BY name", null, StoreJsonContext.Default.ServiceRecord, (r, rev) => r with { Revision = rev }, cancellationToken);

    /// <inheritdoc />
    public async Task<ServiceRecord?> GetServiceAsync(string name, CancellationToken cancellationToken = default) =>
        (await ReadListAsync("SELECT mod_revision, data FROM services WHERE name = $k", name, StoreJsonContext.Default.ServiceRecord, (r, rev) => r with { Revision = rev }, cancellationToken)) is [var first, ..] ? first : null;

    /// <inheritdoc />
    public async Task<ServiceVersionRecord?> GetServiceVersionAsync(string service, int version, CancellationToken cancellationToken = default)
    {
        await _lock.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT data FROM service_versions WHERE name = $n AND version = $v";
            command.Parameters.AddWithValue("$n", service);
            command.Parameters.AddWithValue("$v", version);
            return command.ExecuteScalar() is string json ? JsonSerializer.Deserialize(json, StoreJsonContext.Default.ServiceVersionRecord) : null;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ServiceVersionRecord>> ListServiceVersionsAsync(string service, CancellationToken cancellationToken = default) =>
        ReadListAsync("SELECT 0, data FROM service_versions WHERE name = $k ORDER BY version", service, StoreJsonContext.Default.ServiceVersionRecord, (r, _) => r, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<InstanceRecord>> ListInstancesAsync(string? service = null, CancellationToken cancellationToken = default) =>
        service is null
            ? ReadListAsync("SELECT mod_revision, data FROM instances ORDER BY id", null, StoreJsonContext.Default.InstanceRecord, (r, rev) => r with { Revision = rev }, cancellationToken)
            : ReadListAsync("SELECT mod_revision, data FROM instances WHERE service = $k ORDER BY id", service, StoreJsonContext.Default.InstanceRecord, (r, rev) => r with { Revision = rev }, cancellationToken);

    /// <inheritdoc />
    public async Task<InstanceRecord?> GetInstanceAsync(string id, CancellationToken cancellationToken = default) =>
        (await ReadListAsync("SELECT mod_revision, data FROM instances WHERE id = $k", id, StoreJsonContext.Default.InstanceRecord, (r, rev) => r with { Revision = rev }, cancellationToken)) is [var first, ..] ? first : null;

    /// <inheritdoc />
    public Task<IReadOnlyList<NodeRecord>> ListNodesAsync(CancellationToken cancellationToken = default) =>
        ReadListAsync("SELECT mod_revision, data FROM nodes ORDER BY name", null, StoreJsonContext.Default.NodeRecord, (r, rev) => r with { Revision = rev }, cancellationToken);

    /// <inheritdoc />
    public async Task<NodeRecord?> GetNodeAsync(string name, CancellationToken cancellationToken = default) =>
        (await ReadListAsync("SELECT mod_revision, data FROM nodes WHERE name = $k", name, StoreJsonContext.Default.NodeRecord, (r, rev) => r with { Revision = rev }, cancellationToken)) is [var first, ..] ? first : null;

    /// <inheritdoc />
    public Task<IReadOnlyList<GroupRecord>> ListGroupsAsync(CancellationToken cancellationToken = default) =>
        ReadListAsync("SELECT mod_revision, data FROM groups ORDER BY name", null, StoreJsonContext.Default.GroupRecord, (r, rev) => r with { Revision = rev }, cancellationToken);

    /// <inheritdoc />
    public async Task<GroupRecord?> GetGroupAsync(string name, CancellationToken cancellationToken = default) =>
        (await ReadListAsync("SELECT mod_revision, data FROM groups WHERE name = $k", name, StoreJsonContext.Default.GroupRecord, (r, rev) => r with { Revision = rev }, cancellationToken)) is [var first, ..] ? first : null;

    /// <inheritdoc />
    public async Task<IReadOnlyList<EventRecord>> ListEventsAsync(string? service, long afterSeq = 0, int limit = 0, CancellationToken cancellationToken = default)
    {
        var filter = service is null ? "seq > $after" : "service = $service AND seq > $after";
        var sql = limit > 0
            ? $"SELECT seq, data FROM (SELECT seq, data FROM events WHERE {filter} ORDER BY seq DESC LIMIT $limit) ORDER BY seq"
            : $"SELECT seq, data FROM events WHERE {filter} ORDER BY seq";
        await _lock.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var command = _connection.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("$after", afterSeq);
            command.Parameters.AddWithValue("$limit", limit);
            if (service is not null)
            {
                command.Parameters.AddWithValue("$service", service);
            }

            var events = new List<EventRecord>();
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var record = JsonSerializer.Deserialize(reader.GetString(1), StoreJsonContext.Default.EventRecord)!;
                events.Add(record with { Seq = reader.GetInt64(0) });
            }

            return events;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <inheritdoc />
    public async Task<CommitResult> CommitAsync(StoreTransaction transaction, CancellationToken cancellationToken = default)
    {
        if (transaction.IsEmpty)
        {
            return new CommitResult(true, 0, [], null);
        }

        StoreCommit commit;
        await _lock.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var tx = _connection.BeginTransaction(deferred: false);
            var revision = ReadRevision(tx) + 1;
            var conflict = transaction.Operations.Select(op => Compare(tx, op)).FirstOrDefault(c => c is not null);
            if (conflict is not null)
            {
                tx.Rollback();
                return CommitResult.Conflicted(conflict);
            }

            var kinds = StoreObjectKinds.None;
            var events = new List<EventRecord>();
            foreach (var operation in transaction.Operations)
            {
                kinds |= Apply(tx, operation, revision, events);
            }

            Run(tx, "UPDATE meta SET value = $v WHERE key = 'revision'", ("$v", revision));
            tx.Commit();
            commit = new StoreCommit(revision, kinds, events);
        }
        finally
        {
            _lock.Release();
        }

        Committed?.Invoke(commit);
        return new CommitResult(true, commit.Revision, commit.Events, null);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _lock.Wait();
        try
        {
            if (!_disposed)
            {
                _disposed = true;
                _connection.Dispose();
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    private static string? Compare(SqliteTransaction tx, StoreOperation operation)
    {
        var (table, keyColumn, key, expected) = operation switch
        {
            StoreOperation.PutService p => ("services", "name", p.Service.Name, p.Service.Revision),
            StoreOperation.DeleteService d => ("services", "name", d.Name, d.ExpectedRevision),
            StoreOperation.PutInstance p => ("instances", "id", p.Instance.Id, p.Instance.Revision),
            StoreOperation.DeleteInstance d => ("instances", "id", d.Id, d.ExpectedRevision),
            StoreOperation.PutNode p => ("nodes", "name", p.Node.Name, p.Node.Revision),
            StoreOperation.PutGroup p => ("groups", "name", p.Group.Name, p.Group.Revision),
            StoreOperation.DeleteGroup d => ("groups", "name", d.Name, d.ExpectedRevision),
            StoreOperation.PutServiceVersion v => ("service_versions", "name || '/' || version", $"{v.Version.Service}/{v.Version.Version}", 0L),
            _ => ("", "", "", -1L),
        };
        if (expected < 0)
        {
            return null;
        }

        var revisionColumn = table == "service_versions" ? "1" : "mod_revision";
        using var command = tx.Connection!.CreateCommand();
        command.Transaction = tx;
        command.CommandText = $"SELECT {revisionColumn} FROM {table} WHERE {keyColumn} = $k";
        command.Parameters.AddWithValue("$k", key);
        var stored = command.ExecuteScalar() is long value ? value : 0L;
        return stored == expected ? null : $"{table}/{key}";
    }

    private static StoreObjectKinds Apply(SqliteTransaction tx, StoreOperation operation, long revision, List<EventRecord> events)
    {
        switch (operation)
        {
            case StoreOperation.PutService p:
                Run(tx, "INSERT OR REPLACE INTO services (name, mod_revision, data) VALUES ($k, $r, $d)",
                    ("$k", p.Service.Name), ("$r", revision), ("$d", JsonSerializer.Serialize(p.Service, StoreJsonContext.Default.ServiceRecord)));
                return StoreObjectKinds.Services;
            case StoreOperation.PutServiceVersion v:
                Run(tx, "INSERT INTO service_versions (name, version, data) VALUES ($k, $v, $d)",
                    ("$k", v.Version.Service), ("$v", v.Version.Version), ("$d", JsonSerializer.Serialize(v.Version, StoreJsonContext.Default.ServiceVersionRecord)));
                return StoreObjectKinds.Services;
            case StoreOperation.DeleteService d:
                Run(tx, "DELETE FROM services WHERE name = $k", ("$k", d.Name));
                Run(tx, "DELETE FROM service_versions WHERE name = $k", ("$k", d.Name));
                return StoreObjectKinds.Services;
            case StoreOperation.PutInstance p:
                Run(tx, "INSERT OR REPLACE INTO instances (id, service, mod_revision, data) VALUES ($k, $s, $r, $d)",
                    ("$k", p.Instance.Id), ("$s", p.Instance.Service), ("$r", revision), ("$d", JsonSerializer.Serialize(p.Instance, StoreJsonContext.Default.InstanceRecord)));
                return StoreObjectKinds.Instances;
            case StoreOperation.DeleteInstance d:
                Run(tx, "DELETE FROM instances WHERE id = $k", ("$k", d.Id));
                return StoreObjectKinds.Instances;
            case StoreOperation.PutNode p:
                Run(tx, "INSERT OR REPLACE INTO nodes (name, mod_revision, data) VALUES ($k, $r, $d)",
                    ("$k", p.Node.Name), ("$r", revision), ("$d", JsonSerializer.Serialize(p.Node, StoreJsonContext.Default.NodeRecord)));
                return StoreObjectKinds.Nodes;
            case StoreOperation.PutGroup p:
                Run(tx, "INSERT OR REPLACE INTO groups (name, mod_revision, data) VALUES ($k, $r, $d)",
                    ("$k", p.Group.Name), ("$r", revision), ("$d", JsonSerializer.Serialize(p.Group, StoreJsonContext.Default.GroupRecord)));
                return StoreObjectKinds.Groups;
            case StoreOperation.DeleteGroup d:
                Run(tx, "DELETE FROM groups WHERE name = $k", ("$k", d.Name));
                return StoreObjectKinds.Groups;
            case StoreOperation.AppendEvent e:
                using (var command = tx.Connection!.CreateCommand())
                {
                    command.Transaction = tx;
                    command.CommandText = "INSERT INTO events (service, data) VALUES ($s, $d); SELECT last_insert_rowid();";
                    command.Parameters.AddWithValue("$s", e.Event.Service);
                    command.Parameters.AddWithValue("$d", JsonSerializer.Serialize(e.Event with { Seq = 0 }, StoreJsonContext.Default.EventRecord));
                    events.Add(e.Event with { Seq = (long)command.ExecuteScalar()! });
                }

                return StoreObjectKinds.Events;
            default:
                throw new ArgumentOutOfRangeException(nameof(operation), operation, "unknown store operation");
        }
    }

    private static long ReadRevision(SqliteTransaction tx)
    {
        using var command = tx.Connection!.CreateCommand();
        command.Transaction = tx;
        command.CommandText = "SELECT value FROM meta WHERE key = 'revision'";
        return (long)command.ExecuteScalar()!;
    }

    private static void Run(SqliteTransaction tx, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = tx.Connection!.CreateCommand();
        command.Transaction = tx;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        command.ExecuteNonQuery();
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private async Task<IReadOnlyList<T>> ReadListAsync<T>(string sql, string? key, JsonTypeInfo<T> type, Func<T, long, T> withRevision, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var command = _connection.CreateCommand();
            command.CommandText = sql;
            if (key is not null)
            {
                command.Parameters.AddWithValue("$k", key);
            }

            var list = new List<T>();
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                list.Add(withRevision(JsonSerializer.Deserialize(reader.GetString(1), type)!, reader.GetInt64(0)));
            }

            return list;
        }
        finally
        {
            _lock.Release();
        }
    }
}
