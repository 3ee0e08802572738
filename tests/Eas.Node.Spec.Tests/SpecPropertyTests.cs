using System.Text;
using System.Text.Json;
using CsCheck;

namespace Eas.Node.Spec.Tests;

public sealed class SpecPropertyTests
{
    /// <summary>Keys the parser knows, dotted forms, cloud keys and junk, so random trees hit real code paths.</summary>
    private static readonly string[] _keys =
    [
        "metadata", "name", "instance", "cpu", "memory", "shm_size", "rpc", "keepalive", "enable_sigterm", "eas",
        "termination_grace_period", "containers", "image", "script", "command", "port", "env", "value", "prepare",
        "pythonRequirements", "pythonRequirementsPath", "storage", "mount_path", "host", "path", "readOnly", "empty_dir",
        "medium", "size_limit", "token", "oss", "nfs", "git", "cache", "properties", "resource_type", "server", "endpoint", "secret",
        "repo", "branch", "commit", "username", "password", "capacity", "accessKeyId", "oss.path", "rpc.keepalive", "metadata.instance", "metadata.name",
        "eas.termination_grace_period", "prepare.pythonRequirements", "features", "labels", "cloud", "workspace_id",
        "gpu", "gpu_memory", "gpu_core_percentage", "gpu_model", "metadata.gpu", "metadata.gpu_memory",
        "eas.aliyun.com/gpu-driver-version", "features.eas.aliyun.com/gpu-driver-version",
        "type", "group", "enable_grpc", "routing", "rate_limit", "max_queue_size", "rpc.rate_limit", "metadata.group", "metadata.type",
        "networking", "gateway_policy", "concurrency_limit", "enable", "limit", "networking.gateway_policy", "sinker", "config", "max_body_bytes",
        "a..b", "", ".", "x.", "\u00e9", "\ud83d\ude00",
    ];

    private static readonly string[] _strings =
    [
        "host", "flask_demo", "svc", "", " ", "/mnt/data", "/mnt/../x", "data", "..", "/", "/proc", "/dev/shm", "512Mi",
        "2Gi", "2", "-1", "true", "null", "memory", "python3 app.py", "'unclosed", "a\\", "8080", "\n", "\u00e9\u00e8",
        "python:3.12", "H100", "tesla=550.127.08", "550", "550.", "tesla=", "oss://bucket/x/", "oss://bucket", "oss://B/",
        "oss://bucket/../x", "minio:9000", "https://s3.local", "https://h/r.git", "https://u:p@h/r.git", "file:///srv/r", "nas",
        "10.0.0.5", "abcdef1", "200G", "1.5T", "100GB", "/mnt/oss/m", "/mnt/a/x",
        "Standard", "LLMGatewayService", "Async", "chat", "Chat.Group", "llm", "round_robin", "least_requests", "file", "otlp", "sls",
        "http://127.0.0.1:4318", "https://u:p@otel:4318", "ftp://x",
    ];

    private static readonly Gen<string> _scalarJson = Gen.OneOf(
        Gen.OneOf<string>("0", "1", "-1", "2.5", "1.0", "1e3", "1e400", "-0", "8080", "9090", "65536", "3600001", "512", "1000", "99999999999999999999", "true", "false", "null"),
        Gen.Int.Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        Gen.Double.Select(d => double.IsFinite(d) ? d.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "0"),
        Gen.OneOf<string>(_strings).Select(Quote),
        Gen.String.Select(Quote));

    private static readonly Gen<string> _json = Gen.Recursive<string>((depth, self) =>
        depth >= 5
            ? _scalarJson
            : Gen.Frequency(
                (3, _scalarJson),
                (1, self.Array[0, 4].Select(items => "[" + string.Join(",", items) + "]")),
                (3, Gen.Select(Gen.OneOf(Gen.OneOf<string>(_keys), Gen.String), self).Array[0, 6]
                    .Select(members => "{" + string.Join(",", members.Select(m => Quote(m.Item1) + ":" + m.Item2)) + "}"))));

    private const string Valid = """
        { "metadata": { "name": "svc_one", "instance": 2, "cpu": 1.5, "rpc.keepalive": 9000,
                        "gpu_memory": 8, "gpu_core_percentage": 50, "gpu_model": "A10" },
          "features": { "eas.aliyun.com/gpu-driver-version": "tesla=550.127.08" },
          "containers": [{ "image": "host", "command": "python3 app.py", "port": 8000,
                           "env": [{ "name": "A", "value": "1" }], "prepare": { "pythonRequirements": ["flask"] } }],
          "storage": [{ "mount_path": "/mnt/a", "host": { "path": "/srv/a", "readOnly": true } },
                      { "mount_path": "/dev/shm", "empty_dir": { "medium": "memory", "size_limit": 1 } },
                      { "mount_path": "/mnt/oss", "oss": { "path": "oss://bucket/m/", "endpoint": "minio:9000", "secret": "s" } },
                      { "mount_path": "/mnt/nfs", "nfs": { "server": "nas", "path": "/x" } },
                      { "mount_path": "/code", "git": { "repo": "https://h/r.git", "commit": "abcdef1", "username": "u", "password": "p" } },
                      { "mount_path": "/model", "cache": { "path": "/mnt/oss/m", "capacity": "2G" }, "properties": { "resource_type": "model" } }],
          "networking": { "gateway_policy": { "rate_limit": { "enable": true, "limit": 100 }, "concurrency_limit": { "enable": false, "limit": 0 } } },
          "sinker": { "type": "otlp", "config": { "endpoint": "http://127.0.0.1:4318", "max_body_bytes": 1024 } },
          "token": "abc" }
        """;

    private static readonly string[] _setKeys =
    [
        "metadata", "metadata.name", "metadata.instance", "metadata.cpu", "metadata.memory", "metadata.shm_size", "metadata.rpc",
        "metadata.rpc.keepalive", "metadata.rpc.enable_sigterm", "metadata.eas", "metadata.eas.termination_grace_period", "name",
        "containers", "containers[0]", "containers[1]", "containers[0].image", "containers[0].script", "containers[0].command",
        "containers[0].command[0]", "containers[0].port", "containers[0].env", "containers[0].env[0]", "containers[0].env[0].name",
        "containers[0].env[1]", "containers[0].env[0].value", "containers[0].prepare", "containers[0].prepare.pythonRequirements",
        "containers[0].prepare.pythonRequirements[0]", "containers[0].prepare.pythonRequirementsPath", "storage", "storage[0]",
        "storage[2]", "storage[0].mount_path", "storage[0].host", "storage[0].host.path", "storage[0].host.readOnly",
        "storage[1].empty_dir", "storage[1].empty_dir.size_limit", "storage[1].empty_dir.medium", "storage[1].oss", "token", "cloud",
        "storage[2].oss", "storage[2].oss.path", "storage[2].oss.readOnly", "storage[2].oss.endpoint", "storage[2].oss.secret",
        "storage[2].oss.accessKeyId", "storage[2].mount_path", "storage[3].nfs", "storage[3].nfs.server", "storage[3].nfs.path",
        "storage[4].git", "storage[4].git.repo", "storage[4].git.branch", "storage[4].git.commit", "storage[4].git.password",
        "storage[4].git.readOnly", "storage[5].cache", "storage[5].cache.path", "storage[5].cache.capacity", "storage[5].properties",
        "storage[5].mount_path", "storage[6]",
        "metadata.gpu", "metadata.gpu_memory", "metadata.gpu_core_percentage", "metadata.gpu_model", "features",
        "features.eas.aliyun.com/gpu-driver-version", "features.eas.aliyun.com/other",
        "metadata.type", "metadata.group", "metadata.enable_grpc", "metadata.routing", "metadata.rpc.rate_limit", "metadata.rpc.max_queue_size",
        "networking", "networking.gateway_policy", "networking.gateway_policy.rate_limit", "networking.gateway_policy.rate_limit.enable",
        "networking.gateway_policy.rate_limit.limit", "networking.gateway_policy.concurrency_limit", "networking.gateway_policy.concurrency_limit.limit",
        "networking.gateway", "sinker", "sinker.type", "sinker.config", "sinker.config.endpoint", "sinker.config.max_body_bytes",
    ];

    /// <summary>The valid spec with a few keys set to random JSON: deep, realistic, mostly-valid documents.</summary>
    private static readonly Gen<string> _mutatedSpec =
        Gen.Select(Gen.OneOf<string>(_setKeys), _json).Array[1, 4].Select(edits =>
        {
            var json = Valid;
            foreach (var (key, value) in edits)
            {
                try
                {
                    json = SpecDocument.SetValue(json, key, value);
                }
                catch (SpecDocumentException)
                {
                    // The key ran through a value an earlier edit replaced, or the value has a repeated key: skip this edit.
                }
            }

            return json;
        });

    [Fact]
    public void Parse_ArbitraryInput_NeverThrowsAndIsValidOrHasErrors()
    {
        var anyText = Gen.OneOf(
            _json,
            _mutatedSpec,
            Gen.String,
            _mutatedSpec.SelectMany(json => Gen.Int[0, json.Length].Select(cut => json[..cut])));

        anyText.Sample(json =>
        {
            var result = SpecParser.Parse(json);

            (result.IsValid ^ (result.Errors.Count > 0)).Should().BeTrue();
            result.IsValid.Should().Be(result.Spec is not null);
            result.Errors.Concat(result.Warnings).Should().NotContain(d => d.Path.Length == 0 || d.Message.Length == 0 || d.Fix.Length == 0);
            result.Errors.Should().NotContain(e => e.Message.StartsWith("internal error", StringComparison.Ordinal));
            if (result.Spec is { } spec)
            {
                SpecParser.Parse(SpecWriter.ToJson(spec)).Spec.Should().Be(spec);
            }
        }, iter: 2000);
    }

    [Fact]
    public void Parse_UnpairedSurrogateEscape_IsAnErrorNotACrash()
    {
        var result = SpecParser.Parse("""{ "metadata": { "name": "\ud800" }, "\udc00": 1 }""");

        result.Errors.Should().NotBeEmpty();
        result.Errors.Should().NotContain(e => e.Message.StartsWith("internal error", StringComparison.Ordinal));
    }

    private static readonly Gen<string> _text = Gen.Char["abcxyzABC019 _-.,;:/'\"\\$`\t\u00e9\u4e2d"].Array[1, 12].Select(c => new string(c));

    private static readonly Gen<string> _word = Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789_"].Array[1, 10].Select(c => new string(c));

    private static readonly Gen<string> _absolutePath = _word.Array[1, 4].Select(parts => "/" + string.Join('/', parts));

    private static readonly Gen<ContainerSpec> _container =
        Gen.Select(
            Gen.Bool,
            _text.Where(t => !string.IsNullOrWhiteSpace(t)),
            Gen.Select(_word, _text.Array[0, 3], (first, rest) => (IReadOnlyList<string>)[first, .. rest]),
            Gen.Int[1, 65535].Where(p => p is not 8080 and not 9090),
            Gen.Select(_word.Select(w => "V" + w), _text).Array[0, 3],
            _text.Select(t => t.Trim()).Where(t => t.Length > 0 && !t.Contains('\n', StringComparison.Ordinal)).Array[0, 3],
            _absolutePath.Null(0.5),
            (useScript, script, command, port, env, requirements, requirementsPath) => new ContainerSpec
            {
                Image = ContainerSpec.HostImage,
                Script = useScript ? script : null,
                Command = useScript ? null : command,
                Port = port,
                Env = env.DistinctBy(e => e.Item1).Select(e => new EnvVar(e.Item1, e.Item2)).ToList(),
                PythonRequirements = requirements,
                PythonRequirementsPath = requirementsPath,
            });

    private static readonly Gen<string> _bucket =
        Gen.Select(Gen.Char["abz09"], Gen.Char["abz09.-"].Array[1, 61], Gen.Char["abz09"], (first, middle, last) => first + new string(middle) + last)
            .Where(b => !b.Contains("..", StringComparison.Ordinal));

    private static readonly Gen<OssStorage> _oss =
        Gen.Select(
            _bucket,
            _word.Array[0, 3].Select(parts => string.Join('/', parts)),
            Gen.OneOf<string>("minio.internal:9000", "https://s3.example.com", "http://127.0.0.1:9000/", "s3.local", "[::1]:9000").Null(0.5),
            Gen.Char["azAZ09-_."].Array[1, 128].Select(c => new string(c)).Null(0.5),
            Gen.Bool,
            (bucket, prefix, endpoint, secret, readOnly) => new OssStorage(bucket, prefix, endpoint, secret, readOnly));

    private static readonly Gen<NfsStorage> _nfs =
        Gen.Select(
            Gen.OneOf(
                Gen.OneOf<string>("nas", "10.0.0.5", "fd00::5", "xxx.nas.aliyuncs.com"),
                Gen.Char["abcz09"].Array[1, 8].Select(c => new string(c)).Array[1, 3].Select(labels => "h" + string.Join('.', labels))),
            Gen.OneOf(Gen.Const("/"), _absolutePath),
            Gen.Bool,
            (server, path, readOnly) => new NfsStorage(server, path, readOnly));

    private static readonly Gen<GitStorage> _git =
        Gen.Select(
            Gen.OneOf(_word.Select(w => $"https://git.example.com/team/{w}.git"), _word.Select(w => $"file:///srv/git/{w}"), Gen.Const("http://10.0.0.7:3000/app.git")),
            Gen.OneOf(Gen.OneOf<string>("master", "main"), _word.Select(w => "release/" + w)),
            Gen.Char["0123456789abcdef"].Array[7, 40].Select(c => new string(c)).Null(0.5),
            _word.Null(0.5),
            Gen.Char["abcXYZ019 _-.,;:/'\"\\$`\u00e9\u4e2d"].Array[1, 20].Select(c => new string(c)).Null(0.5),
            (repo, branch, commit, username, password) => new GitStorage(repo, branch, commit, username, password));

    private static readonly Gen<StorageSpec> _storage =
        Gen.Select(_absolutePath, Gen.Int[0, 4], _absolutePath, Gen.Bool, Gen.Long[0, 64L * 1024 * 1024], _oss, _nfs, _git,
            (mount, kind, hostPath, flag, size, oss, nfs, git) => kind switch
            {
                0 => new StorageSpec { MountPath = "/m" + mount, Host = new HostStorage(hostPath, flag) },
                1 => new StorageSpec { MountPath = "/m" + mount, EmptyDir = new EmptyDirStorage(flag ? "memory" : "", size) },
                2 => new StorageSpec { MountPath = "/m" + mount, Oss = oss },
                3 => new StorageSpec { MountPath = "/m" + mount, Nfs = nfs },
                _ => new StorageSpec { MountPath = "/m" + mount, Git = git },
            });

    /// <summary>
    /// Up to four entries of any kind but cache, then up to two caches of folders those entries mount. A cache's
    /// subfolder has a '-' that no generated mount path has, so no other entry lies between a cache and its source.
    /// </summary>
    private static readonly Gen<List<StorageSpec>> _storageList =
        Gen.Select(
            _storage.Array[0, 4],
            Gen.Select(Gen.Int[0, 100], _word.Null(0.5), _word, Gen.Long[0, 64L * 1024 * 1024]).Array[0, 2],
            (entries, caches) =>
            {
                var storage = entries.DistinctBy(s => s.MountPath).ToList();
                var sources = storage.Where(s => StorageKinds.CacheSources.Contains(s.Kind)).ToList();
                foreach (var (pick, sub, mount, capacity) in sources.Count > 0 ? caches : [])
                {
                    var source = sources[pick % sources.Count].MountPath + (sub is null ? "" : "/x-" + sub);
                    storage.Add(new StorageSpec { MountPath = "/c/" + mount, Cache = new CacheStorage(source, capacity) });
                }

                return storage.DistinctBy(s => s.MountPath).ToList();
            });

    private static readonly Gen<string> _gpuModel =
        Gen.Char["AZaz09-_. "].Array[1, 64].Select(c => new string(c).Trim()).Where(t => t.Length > 0);

    private static readonly Gen<string> _driverVersion = Gen.Char["0123456789"].Array[1, 5].Select(c => new string(c)).Array[1, 4].Select(p => string.Join('.', p));

    /// <summary>No GPU, whole GPUs, or a slice, each with an optional model and driver version.</summary>
    private static readonly Gen<Func<ServiceSpec, ServiceSpec>> _gpu =
        Gen.Select(Gen.Int[0, 2], Gen.Int[1, 16], Gen.Int[1, 1024], Gen.Int[1, 100].Nullable(0.3), _gpuModel.Null(0.5), _driverVersion.Null(0.5),
            Func<ServiceSpec, ServiceSpec> (mode, gpus, memory, core, model, driver) => mode switch
            {
                0 => spec => spec,
                1 => spec => spec with { Gpu = gpus, GpuModel = model, GpuDriverVersion = driver },
                _ => spec => spec with { GpuMemoryGb = memory, GpuCorePercentage = core, GpuModel = model, GpuDriverVersion = driver },
            });

    private static readonly Gen<string> _group =
        Gen.Select(Gen.Char["abcz"], Gen.Char["abcz09_"].Array[0, 62], (first, rest) => first + new string(rest));

    private static readonly Gen<GatewayLimit?> _gatewayLimit =
        Gen.Select(Gen.Int[0, 2], Gen.Int[1, 1_000_000], (mode, limit) => mode switch
        {
            0 => null,
            1 => new GatewayLimit(true, limit),
            _ => (GatewayLimit?)new GatewayLimit(false, limit % 2 == 0 ? 0 : limit),
        });

    private static readonly Gen<SinkerSpec?> _sinker =
        Gen.Select(Gen.Int[0, 2], Gen.OneOf<string>("http://127.0.0.1:4318", "https://otel.example.com:4318/base", "http://[::1]:4318"), Gen.Int[0, 16 * 1024 * 1024],
            (mode, endpoint, maxBody) => mode switch
            {
                0 => null,
                1 => new SinkerSpec(SinkerTypes.File, null, maxBody),
                _ => (SinkerSpec?)new SinkerSpec(SinkerTypes.Otlp, endpoint, maxBody),
            });

    /// <summary>The traffic fields; one spec in eight becomes an LLMGatewayService (no container, no instances, a group).</summary>
    private static readonly Gen<Func<ServiceSpec, ServiceSpec>> _traffic =
        Gen.Select(
            Gen.Select(Gen.Int[0, 7], _group.Null(0.5), Gen.Bool, Gen.Int[0, 2]),
            Gen.Select(Gen.Int[0, 1_000_000], Gen.Int[1, 100_000], _gatewayLimit, _gatewayLimit, _sinker),
            Func<ServiceSpec, ServiceSpec> (meta, limits) => spec =>
            {
                var (kind, group, grpc, routing) = meta;
                var (rate, queue, serviceRate, concurrency, sinker) = limits;
                spec = spec with
                {
                    Group = group,
                    EnableGrpc = grpc,
                    Routing = (ServiceRouting)routing,
                    RateLimit = rate,
                    MaxQueueSize = queue,
                    GatewayRateLimit = serviceRate,
                    GatewayConcurrencyLimit = concurrency,
                    Sinker = sinker,
                };
                return kind == 0 ? spec with { Type = ServiceTypes.LlmGateway, Container = null, Instance = 0, Group = group ?? "g" } : spec;
            });

    private static readonly Gen<ServiceSpec> _spec =
        Gen.Select(
            Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789_"].Array[3, 63].Select(c => new string(c)),
            Gen.Int[0, 1000],
            Gen.Int[1, 512_000].Select(m => m / 1000.0),
            Gen.Int[1, 16 * 1024 * 1024],
            Gen.Double[0.001, 1024].Nullable(0.5),
            Gen.Select(Gen.Int[1, 3_600_000], Gen.Bool, Gen.Int[0, 3600]),
            _container,
            Gen.Select(_storageList, Gen.Char["Az09._~+/=-"].Array[1, 40].Select(c => new string(c)).Null(0.3), _gpu, _traffic),
            (name, instance, cpu, memory, shm, rpc, container, rest) => rest.Item4(rest.Item3(new ServiceSpec
            {
                Name = name,
                Instance = instance,
                Cpu = cpu,
                MemoryMb = memory,
                ShmSizeGb = shm,
                KeepaliveMs = rpc.Item1,
                EnableSigterm = rpc.Item2,
                TerminationGracePeriodSeconds = rpc.Item3,
                Container = container,
                Storage = rest.Item1,
                Token = rest.Item2,
            })));

    [Fact]
    public void ToJson_ValidSpec_ParsesBackToAnEqualSpec()
    {
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        _spec.Sample(spec =>
        {
            foreach (var storage in spec.Storage)
            {
                seen.AddOrUpdate(storage.Kind, 1, (_, n) => n + 1);
            }

            var json = SpecWriter.ToJson(spec);

            var result = SpecParser.Parse(json);

            result.Errors.Should().BeEmpty(json);
            result.Warnings.Should().BeEmpty();
            result.Spec.Should().Be(spec, json);
            result.Spec!.GetHashCode().Should().Be(spec.GetHashCode());
            SpecWriter.ToJson(result.Spec).Should().Be(json);
        }, iter: 1000);

        seen.Keys.Should().BeEquivalentTo(StorageKinds.All, "the generator must cover every storage kind");
    }

    [Fact]
    public void ToJson_WithoutToken_LeavesTheTokenOut()
    {
        _spec.Where(s => s.Token is not null).Sample(spec =>
        {
            SpecParser.Parse(SpecWriter.ToJson(spec, includeToken: false)).Spec.Should().Be(spec with { Token = null });
        }, iter: 100);
    }

    [Fact]
    public void Equals_AnyFieldChanged_IsNotEqual()
    {
        var spec = SpecParser.Parse(Valid).Spec!;
        var container = spec.Container!;
        var changed = new[]
        {
            spec with { Name = "other" }, spec with { Instance = 3 }, spec with { Cpu = 2 }, spec with { MemoryMb = 1 },
            spec with { ShmSizeGb = 1 }, spec with { KeepaliveMs = 1 }, spec with { EnableSigterm = true },
            spec with { TerminationGracePeriodSeconds = 1 }, spec with { Storage = spec.Storage.Take(1).ToList() },
            spec with { Gpu = 1 }, spec with { GpuMemoryGb = 9 }, spec with { GpuCorePercentage = null }, spec with { GpuModel = "a10" },
            spec with { GpuDriverVersion = "550" },
            spec with { Token = null }, spec with { Container = container with { Image = "x" } },
            spec with { Container = container with { Script = "x" } }, spec with { Container = container with { Command = ["python3"] } },
            spec with { Container = container with { Port = 1 } }, spec with { Container = container with { Env = [] } },
            spec with { Container = container with { PythonRequirements = [] } },
            spec with { Container = container with { PythonRequirementsPath = "/r.txt" } },
        };

        changed.Should().OnlyContain(c => !c.Equals(spec));
        (spec with { Storage = spec.Storage.ToList(), Container = container with { Env = container.Env.ToList() } }).Should().Be(spec);
    }

    private static string Quote(string text)
    {
        // JsonSerializer refuses unpaired surrogates; random strings may contain them, so escape by hand.
        var builder = new StringBuilder("\"");
        foreach (var c in text)
        {
            builder.Append(c is '"' or '\\' || c < ' ' || char.IsSurrogate(c) ? $"\\u{(int)c:x4}" : c.ToString());
        }

        return builder.Append('"').ToString();
    }

    private static readonly JsonSerializerOptions _unused = new();
}
