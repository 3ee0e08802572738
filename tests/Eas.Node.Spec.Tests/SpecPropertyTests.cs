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
        "medium", "size_limit", "token", "oss", "nfs", "rpc.keepalive", "metadata.instance", "metadata.name",
        "eas.termination_grace_period", "prepare.pythonRequirements", "features", "labels", "cloud", "workspace_id",
        "gpu", "gpu_memory", "gpu_core_percentage", "gpu_model", "metadata.gpu", "metadata.gpu_memory",
        "eas.aliyun.com/gpu-driver-version", "features.eas.aliyun.com/gpu-driver-version",
        "a..b", "", ".", "x.", "\u00e9", "\ud83d\ude00",
    ];

    private static readonly string[] _strings =
    [
        "host", "flask_demo", "svc", "", " ", "/mnt/data", "/mnt/../x", "data", "..", "/", "/proc", "/dev/shm", "512Mi",
        "2Gi", "2", "-1", "true", "null", "memory", "python3 app.py", "'unclosed", "a\\", "8080", "\n", "\u00e9\u00e8",
        "python:3.12", "H100", "tesla=550.127.08", "550", "550.", "tesla=",
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
                      { "mount_path": "/dev/shm", "empty_dir": { "medium": "memory", "size_limit": 1 } }],
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
        "metadata.gpu", "metadata.gpu_memory", "metadata.gpu_core_percentage", "metadata.gpu_model", "features",
        "features.eas.aliyun.com/gpu-driver-version", "features.eas.aliyun.com/other",
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

    private static readonly Gen<StorageSpec> _storage =
        Gen.Select(_absolutePath, Gen.Bool, _absolutePath, Gen.Bool, Gen.Bool, Gen.Long[0, 64L * 1024 * 1024],
            (mount, isHost, hostPath, flag, memory, size) => isHost
                ? new StorageSpec { MountPath = "/m" + mount, Host = new HostStorage(hostPath, flag) }
                : new StorageSpec { MountPath = "/m" + mount, EmptyDir = new EmptyDirStorage(memory ? "memory" : "", size) });

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

    private static readonly Gen<ServiceSpec> _spec =
        Gen.Select(
            Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789_"].Array[3, 63].Select(c => new string(c)),
            Gen.Int[0, 1000],
            Gen.Int[1, 512_000].Select(m => m / 1000.0),
            Gen.Int[1, 16 * 1024 * 1024],
            Gen.Double[0.001, 1024].Nullable(0.5),
            Gen.Select(Gen.Int[1, 3_600_000], Gen.Bool, Gen.Int[0, 3600]),
            _container,
            Gen.Select(_storage.Array[0, 4], Gen.Char["Az09._~+/=-"].Array[1, 40].Select(c => new string(c)).Null(0.3), _gpu),
            (name, instance, cpu, memory, shm, rpc, container, rest) => rest.Item3(new ServiceSpec
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
                Storage = rest.Item1.DistinctBy(s => s.MountPath).ToList(),
                Token = rest.Item2,
            }));

    [Fact]
    public void ToJson_ValidSpec_ParsesBackToAnEqualSpec()
    {
        _spec.Sample(spec =>
        {
            var json = SpecWriter.ToJson(spec);

            var result = SpecParser.Parse(json);

            result.Errors.Should().BeEmpty(json);
            result.Warnings.Should().BeEmpty();
            result.Spec.Should().Be(spec, json);
            result.Spec!.GetHashCode().Should().Be(spec.GetHashCode());
            SpecWriter.ToJson(result.Spec).Should().Be(json);
        }, iter: 1000);
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
        var container = spec.Container;
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
