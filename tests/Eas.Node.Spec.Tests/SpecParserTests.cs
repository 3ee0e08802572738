namespace Eas.Node.Spec.Tests;

public sealed class SpecParserTests
{
    private const string QuickStart = """
        {
          "metadata": { "name": "flask_demo", "instance": 2, "cpu": 1, "memory": 512 },
          "containers": [{
            "image": "host",
            "script": "python3 /mnt/data/app.py",
            "port": 8000,
            "prepare": { "pythonRequirements": ["flask"] }
          }],
          "storage": [{ "mount_path": "/mnt/data/", "host": { "path": "examples/quickstart/code", "readOnly": true } }]
        }
        """;

    private static readonly SpecParseOptions _repo = new() { BaseDirectory = "/work/repo" };

    /// <summary>A valid spec with <paramref name="containerExtra"/> and <paramref name="metadataExtra"/> spliced in.</summary>
    private static string Minimal(string metadataExtra = "", string containerExtra = "\"script\": \"python3 app.py\"", string top = "") => $$"""
        { "metadata": { "name": "svc_one" {{metadataExtra}} },
          "containers": [{ "image": "host", "port": 8000, {{containerExtra}} }] {{top}} }
        """;

    private static SpecDiagnostic ErrorAt(SpecParseResult result, string path) =>
        result.Errors.Should().ContainSingle(e => e.Path == path, $"errors were: {string.Join(" | ", result.Errors)}").Subject;

    [Fact]
    public void Parse_QuickStartSpec_IsValidWithDefaultsFilledIn()
    {
        var result = SpecParser.Parse(QuickStart, _repo);

        result.Errors.Should().BeEmpty();
        result.Warnings.Should().BeEmpty();
        var spec = result.Spec!;
        spec.Name.Should().Be("flask_demo");
        spec.Instance.Should().Be(2);
        spec.CpuMillis.Should().Be(1000);
        spec.MemoryMb.Should().Be(512);
        spec.KeepaliveMs.Should().Be(5000);
        spec.TerminationGracePeriodSeconds.Should().Be(30);
        spec.ShmMib.Should().Be(64);
        spec.Container.Should().Be(new ContainerSpec
        {
            Image = "host",
            Script = "python3 /mnt/data/app.py",
            Port = 8000,
            PythonRequirements = ["flask"],
        });
        spec.Storage.Should().Equal(new StorageSpec { MountPath = "/mnt/data", Host = new HostStorage("/work/repo/examples/quickstart/code", true) });
    }

    [Fact]
    public void Parse_RelativeHostPathWithoutBaseDirectory_IsAnError()
    {
        var result = SpecParser.Parse(QuickStart);

        result.IsValid.Should().BeFalse();
        ErrorAt(result, "storage[0].host.path").Message.Should().Contain("relative");
    }

    [Fact]
    public void Parse_DottedAndNestedKeys_GiveTheSameSpec()
    {
        const string Nested = """
            { "metadata": { "name": "svc_one", "instance": 3, "rpc": { "keepalive": 60000, "enable_sigterm": true }, "eas": { "termination_grace_period": 90 } },
              "containers": [{ "image": "host", "command": "python3 app.py", "port": 8000, "prepare": { "pythonRequirements": ["flask"] } }] }
            """;
        const string Dotted = """
            { "metadata.name": "svc_one", "metadata.instance": 3,
              "metadata": { "rpc.keepalive": 60000, "rpc": { "enable_sigterm": true }, "eas.termination_grace_period": 90 },
              "containers": [{ "image": "host", "command": "python3 app.py", "port": 8000, "prepare.pythonRequirements": ["flask"] }] }
            """;

        var nested = SpecParser.Parse(Nested);
        var dotted = SpecParser.Parse(Dotted);

        nested.Errors.Should().BeEmpty();
        dotted.Errors.Should().BeEmpty();
        dotted.Warnings.Should().BeEmpty();
        dotted.Spec.Should().Be(nested.Spec);
        dotted.Spec!.KeepaliveMs.Should().Be(60000);
        dotted.Spec.EnableSigterm.Should().BeTrue();
        dotted.Spec.TerminationGracePeriodSeconds.Should().Be(90);
        dotted.Spec.Container!.Command.Should().Equal("python3", "app.py");
    }

    [Fact]
    public void Parse_DottedAndNestedWithDifferentValues_IsAnError()
    {
        var result = SpecParser.Parse(Minimal(metadataExtra: """, "rpc.keepalive": 5000, "rpc": { "keepalive": 3000 }"""));

        ErrorAt(result, "metadata.rpc.keepalive").Message.Should().Contain("5000").And.Contain("3000");
    }

    [Fact]
    public void Parse_DottedAndNestedWithTheSameValue_IsFine()
    {
        var result = SpecParser.Parse(Minimal(metadataExtra: """, "rpc.keepalive": 3000, "rpc": { "keepalive": 3000 }"""));

        result.IsValid.Should().BeTrue();
        result.Spec!.KeepaliveMs.Should().Be(3000);
    }

    [Fact]
    public void Parse_LegacyTopLevelName_IsMetadataName()
    {
        var result = SpecParser.Parse("""{ "name": "legacy_svc", "metadata": { "instance": 1 }, "containers": [{ "image": "host", "script": "x", "port": 8000 }] }""");

        result.Errors.Should().BeEmpty();
        result.Spec!.Name.Should().Be("legacy_svc");
    }

    [Fact]
    public void Parse_LegacyNameDiffersFromMetadataName_IsAnError()
    {
        var result = SpecParser.Parse(Minimal(top: """, "name": "other_name" """));

        ErrorAt(result, "name").Message.Should().Contain("\"other_name\"").And.Contain("\"svc_one\"");
    }

    [Fact]
    public void Parse_LegacyNameEqualToMetadataName_IsFine()
    {
        SpecParser.Parse(Minimal(top: """, "name": "svc_one" """)).IsValid.Should().BeTrue();
    }

    [Fact]
    public void Parse_BadInput_ReportsEveryErrorWithItsPath()
    {
        const string Bad = """
            {
              "metadata": { "name": "bad_demo", "cpu": -1 },
              "containers": [{ "image": "host", "port": 8080 }],
              "storage": [
                { "mount_path": "/mnt/a", "s3": { "bucket": "x" } },
                { "mount_path": "data", "host": { "path": "/srv/data" } },
                { "mount_path": "/mnt/../etc", "empty_dir": {} }
              ]
            }
            """;

        var result = SpecParser.Parse(Bad);

        result.IsValid.Should().BeFalse();
        result.Spec.Should().BeNull();
        result.Errors.Select(e => e.Path).Should().BeEquivalentTo(
            "metadata.cpu", "containers[0]", "containers[0].port", "storage[0].s3", "storage[1].mount_path", "storage[2].mount_path");
        ErrorAt(result, "metadata.cpu").Message.Should().Contain("-1");
        ErrorAt(result, "containers[0]").Message.Should().Contain("neither script nor command");
        ErrorAt(result, "containers[0].port").ToString().Should().Be(
            "containers[0].port: 8080 is reserved (8080 and 9090 belong to the platform); pick another port such as 8000");
        ErrorAt(result, "storage[0].s3").Message.Should().Contain("unknown storage kind \"s3\"").And.Contain("host, empty_dir");
        ErrorAt(result, "storage[1].mount_path").Message.Should().Contain("not an absolute path");
        ErrorAt(result, "storage[2].mount_path").Message.Should().Contain("..");
        result.Errors.Should().OnlyContain(e => e.Fix.Length > 0);
    }

    [Fact]
    public void Parse_UnknownAndCloudOnlyKeys_AreWarningsNamingTheKey()
    {
        var result = SpecParser.Parse(Minimal(
            metadataExtra: """, "workspace_id": "123", "resource": "eas-r-x", "colour": "blue", "npu": 1, "rpc": { "batching": true, "keepalvie": 1 }""",
            top: """, "cloud": { "computing": {} }, "extra_top": 1"""));

        result.IsValid.Should().BeTrue();
        result.Warnings.Select(w => (w.Path, w.Message)).Should().BeEquivalentTo(new[]
        {
            ("metadata.workspace_id", "ignored on a self-hosted cluster"),
            ("metadata.resource", "ignored on a self-hosted cluster"),
            ("metadata.colour", "unknown key \"colour\", ignored"),
            ("metadata.npu", "not supported yet, ignored"),
            ("metadata.rpc.batching", "not supported yet, ignored"),
            ("metadata.rpc.keepalvie", "unknown key \"keepalvie\", ignored"),
            ("cloud", "ignored on a self-hosted cluster"),
            ("extra_top", "unknown key \"extra_top\", ignored"),
        });
        result.Warnings.Single(w => w.Path == "metadata.rpc.keepalvie").Fix.Should().Contain("keepalive");
    }

    [Theory]
    [InlineData("invalid", "$")]
    [InlineData("{\"metadata\": ", "$")]
    [InlineData("[1, 2]", "$")]
    [InlineData("null", "$")]
    [InlineData("", "$")]
    public void Parse_NotAJsonObject_OneErrorAtRoot(string json, string path)
    {
        var result = SpecParser.Parse(json);

        result.Errors.Should().ContainSingle().Which.Path.Should().Be(path);
    }

    [Fact]
    public void Parse_InvalidJson_ErrorGivesLineAndColumn()
    {
        var result = SpecParser.Parse("{\n  \"metadata\": {\"name\": \"x\",}\n}");

        result.Errors.Single().Message.Should().StartWith("not valid JSON at line 2, column");
    }

    [Theory]
    [InlineData("\"instance\": \"2\"", "metadata.instance", "write 2 without quotes")]
    [InlineData("\"cpu\": \"0.5\"", "metadata.cpu", "write 0.5 without quotes")]
    [InlineData("\"memory\": 1.5", "metadata.memory", "use e.g. 1024 for 1 GB")]
    [InlineData("\"instance\": -1", "metadata.instance", "use e.g. 2; 0 keeps the service with no running instance")]
    [InlineData("\"instance\": 1001", "metadata.instance", "use e.g. 2; 0 keeps the service with no running instance")]
    [InlineData("\"cpu\": 0", "metadata.cpu", "use e.g. 1 or 0.5")]
    [InlineData("\"cpu\": 513", "metadata.cpu", "use e.g. 1 or 0.5")]
    [InlineData("\"memory\": 0", "metadata.memory", "use e.g. 1024 for 1 GB")]
    [InlineData("\"shm_size\": 0", "metadata.shm_size", "use e.g. 1, or remove it for the default 64 MiB")]
    [InlineData("\"rpc\": { \"keepalive\": 0 }", "metadata.rpc.keepalive", "use e.g. 5000 (the default) or 60000 for slow models")]
    [InlineData("\"rpc\": { \"enable_sigterm\": \"true\" }", "metadata.rpc.enable_sigterm", "write true without quotes")]
    [InlineData("\"rpc\": 5", "metadata.rpc", "give an object")]
    [InlineData("\"eas\": { \"termination_grace_period\": 3601 }", "metadata.eas.termination_grace_period", "use e.g. 30 (the default)")]
    [InlineData("\"instance\": null", "metadata.instance", "give a whole number, or remove the key to use the default")]
    [InlineData("\"name\": \"Flask-Demo\"", "metadata.name", "use \"flask_demo\"")]
    [InlineData("\"name\": 12", "metadata.name", "put it in quotes: \"12\"")]
    public void Parse_BadMetadataValue_ErrorWithPathAndFix(string metadata, string path, string fix)
    {
        var name = metadata.Contains("\"name\"", StringComparison.Ordinal) ? string.Empty : "\"name\": \"svc_one\",";
        var json = $$"""{ "metadata": { {{name}} {{metadata}} }, "containers": [{ "image": "host", "script": "x", "port": 8000 }] }""";

        var result = SpecParser.Parse(json);

        result.Errors.Should().ContainSingle($"errors were: {string.Join(" | ", result.Errors)}")
            .Which.Should().BeEquivalentTo(new { Path = path, Fix = fix });
    }

    [Fact]
    public void Parse_MissingNameAndContainers_ReportsBoth()
    {
        var result = SpecParser.Parse("{}");

        result.Errors.Select(e => e.Path).Should().BeEquivalentTo("metadata.name", "containers");
    }

    [Theory]
    [InlineData("\"containers\": []", "containers", "empty")]
    [InlineData("\"containers\": {}", "containers", "must be an array")]
    [InlineData("\"containers\": [{ \"image\": \"host\", \"script\": \"x\", \"port\": 8000 }, { \"image\": \"host\", \"script\": \"y\", \"port\": 8001 }]", "containers", "exactly one container")]
    [InlineData("\"containers\": [{ \"script\": \"x\", \"port\": 8000 }]", "containers[0].image", "required")]
    [InlineData("\"containers\": [{ \"image\": \"python:3.12\", \"script\": \"x\", \"port\": 8000 }]", "containers[0].image", "OCI images are not supported yet")]
    [InlineData("\"containers\": [{ \"image\": \"host\", \"script\": \"x\" }]", "containers[0].port", "required")]
    [InlineData("\"containers\": [{ \"image\": \"host\", \"script\": \"x\", \"port\": 70000 }]", "containers[0].port", "out of range")]
    [InlineData("\"containers\": [{ \"image\": \"host\", \"script\": \"x\", \"port\": 9090 }]", "containers[0].port", "9090 is reserved")]
    [InlineData("\"containers\": [{ \"image\": \"host\", \"script\": \"x\", \"command\": \"y\", \"port\": 8000 }]", "containers[0]", "both script and command")]
    [InlineData("\"containers\": [{ \"image\": \"host\", \"script\": \"  \", \"port\": 8000 }]", "containers[0].script", "must not be empty")]
    [InlineData("\"containers\": [{ \"image\": \"host\", \"command\": \"python3 'app.py\", \"port\": 8000 }]", "containers[0].command", "unclosed '")]
    [InlineData("\"containers\": [{ \"image\": \"host\", \"command\": [], \"port\": 8000 }]", "containers[0].command", "must name a program")]
    [InlineData("\"containers\": [{ \"image\": \"host\", \"command\": [\"a\", 1], \"port\": 8000 }]", "containers[0].command[1]", "must be a string")]
    [InlineData("\"containers\": [{ \"image\": \"host\", \"script\": \"x\", \"port\": 8000, \"env\": [{ \"name\": \"1BAD\", \"value\": \"x\" }] }]", "containers[0].env[0].name", "not a valid variable name")]
    [InlineData("\"containers\": [{ \"image\": \"host\", \"script\": \"x\", \"port\": 8000, \"env\": [{ \"name\": \"A\", \"value\": \"x\" }, { \"name\": \"A\", \"value\": \"y\" }] }]", "containers[0].env[1].name", "already set by containers[0].env[0]")]
    [InlineData("\"containers\": [{ \"image\": \"host\", \"script\": \"x\", \"port\": 8000, \"env\": [{ \"name\": \"A\" }] }]", "containers[0].env[0].value", "required")]
    [InlineData("\"containers\": [{ \"image\": \"host\", \"script\": \"x\", \"port\": 8000, \"env\": [{ \"name\": \"A\", \"value\": {} }] }]", "containers[0].env[0].value", "must be a string")]
    [InlineData("\"containers\": [{ \"image\": \"host\", \"script\": \"x\", \"port\": 8000, \"prepare\": { \"pythonRequirements\": [\"flask\\nrequests\"] } }]", "containers[0].prepare.pythonRequirements[0]", "on one line")]
    [InlineData("\"containers\": [{ \"image\": \"host\", \"script\": \"x\", \"port\": 8000, \"prepare\": { \"pythonRequirementsPath\": \"req.txt\" } }]", "containers[0].prepare.pythonRequirementsPath", "not an absolute path")]
    [InlineData("\"containers\": [{ \"image\": \"host\", \"script\": \"x\", \"port\": 8000 }], \"token\": \"\"", "token", "1 to 256 characters")]
    [InlineData("\"containers\": [{ \"image\": \"host\", \"script\": \"x\", \"port\": 8000 }], \"token\": \"abc def\"", "token", "position 4")]
    public void Parse_BadContainerOrToken_ErrorAtPath(string body, string path, string messagePart)
    {
        var result = SpecParser.Parse($$"""{ "metadata": { "name": "svc_one" }, {{body}} }""");

        ErrorAt(result, path).Message.Should().Contain(messagePart);
    }

    [Theory]
    [InlineData("\"s3cret value!\"")]
    [InlineData("31415926")]
    public void Parse_TokenError_NeverEchoesTheToken(string token)
    {
        var result = SpecParser.Parse(Minimal(top: $", \"token\": {token}"));

        result.Errors.Single().ToString().Should().NotContain("s3cret").And.NotContain("31415926");
    }

    [Fact]
    public void Parse_EnvValues_NumbersAndBooleansBecomeText()
    {
        var result = SpecParser.Parse(Minimal(containerExtra: """
            "script": "x", "env": [{ "name": "RATE", "value": 1.50 }, { "name": "DEBUG", "value": true }, { "name": "MODE", "value": "fast" }]
            """));

        result.Spec!.Container!.Env.Should().Equal(new EnvVar("RATE", "1.50"), new EnvVar("DEBUG", "true"), new EnvVar("MODE", "fast"));
    }

    [Theory]
    [InlineData("python3 app.py --port 8000", new[] { "python3", "app.py", "--port", "8000" })]
    [InlineData("sh -c 'echo \"hi there\"'", new[] { "sh", "-c", "echo \"hi there\"" })]
    [InlineData("echo \"a \\\"b\\\" c\" d\\ e ''", new[] { "echo", "a \"b\" c", "d e", "" })]
    public void Parse_CommandString_SplitLikeAShell(string command, string[] expected)
    {
        var json = Minimal(containerExtra: $"\"command\": {System.Text.Json.JsonSerializer.Serialize(command)}");

        var result = SpecParser.Parse(json);

        result.Errors.Should().BeEmpty();
        result.Spec!.Container!.Command.Should().Equal(expected);
        result.Spec.Container!.Script.Should().BeNull();
    }

    [Fact]
    public void Parse_StorageKinds_NormalizedPathsAndSizes()
    {
        var result = SpecParser.Parse(Minimal(top: """
            , "storage": [
                { "mount_path": "/mnt//models/", "host": { "path": "../shared/./models/" } },
                { "mount_path": "/dev/shm", "empty_dir": { "medium": "memory", "size_limit": 2 } },
                { "mount_path": "/scratch", "empty_dir": { "size_limit": "512Mi" } },
                { "mount_path": "/tmp/x", "empty_dir": {} }
              ]
            """), new SpecParseOptions { BaseDirectory = "/srv/specs/app" });

        result.Errors.Should().BeEmpty();
        result.Spec!.Storage.Should().Equal(
            new StorageSpec { MountPath = "/mnt/models", Host = new HostStorage("/srv/specs/shared/models", false) },
            new StorageSpec { MountPath = "/dev/shm", EmptyDir = new EmptyDirStorage("memory", 2048) },
            new StorageSpec { MountPath = "/scratch", EmptyDir = new EmptyDirStorage("", 512) },
            new StorageSpec { MountPath = "/tmp/x", EmptyDir = new EmptyDirStorage("", 0) });
    }

    [Theory]
    [InlineData("{ \"mount_path\": \"/\", \"empty_dir\": {} }", "storage[0].mount_path", "cannot be /")]
    [InlineData("{ \"mount_path\": \"/proc/x\", \"empty_dir\": {} }", "storage[0].mount_path", "belong to the kernel")]
    [InlineData("{ \"mount_path\": \"/dev\", \"empty_dir\": {} }", "storage[0].mount_path", "belong to the kernel")]
    [InlineData("{ \"mount_path\": \"/sys/fs\", \"empty_dir\": {} }", "storage[0].mount_path", "belong to the kernel")]
    [InlineData("{ \"empty_dir\": {} }", "storage[0].mount_path", "required")]
    [InlineData("{ \"mount_path\": \"/a\" }", "storage[0]", "no storage kind")]
    [InlineData("{ \"mount_path\": \"/a\", \"host\": { \"path\": \"/x\" }, \"empty_dir\": {} }", "storage[0]", "2 storage kinds")]
    [InlineData("{ \"mount_path\": \"/a\", \"pvc\": { \"name\": \"b\" } }", "storage[0].pvc", "\"pvc\" is not supported yet")]
    [InlineData("{ \"mount_path\": \"/a\", \"image\": { \"image\": \"x\" } }", "storage[0].image", "\"image\" is not supported yet")]
    [InlineData("{ \"mount_path\": \"/a\", \"host\": {} }", "storage[0].host.path", "required")]
    [InlineData("{ \"mount_path\": \"/a\", \"host\": { \"path\": \"/x\", \"readOnly\": \"yes\" } }", "storage[0].host.readOnly", "must be true or false")]
    [InlineData("{ \"mount_path\": \"/a\", \"empty_dir\": { \"medium\": \"ssd\" } }", "storage[0].empty_dir.medium", "not a medium")]
    [InlineData("{ \"mount_path\": \"/a\", \"empty_dir\": { \"size_limit\": \"2\" } }", "storage[0].empty_dir.size_limit", "got the string \"2\"")]
    [InlineData("{ \"mount_path\": \"/a\", \"empty_dir\": { \"size_limit\": \"2GB\" } }", "storage[0].empty_dir.size_limit", "not a size")]
    [InlineData("{ \"mount_path\": \"/a\", \"empty_dir\": { \"size_limit\": 0 } }", "storage[0].empty_dir.size_limit", "out of range")]
    public void Parse_BadStorageEntry_ErrorAtPath(string entry, string path, string messagePart)
    {
        var result = SpecParser.Parse(Minimal(top: $", \"storage\": [{entry}]"));

        ErrorAt(result, path).Message.Should().Contain(messagePart);
    }

    [Fact]
    public void Parse_SameMountPathTwice_IsAnError()
    {
        var result = SpecParser.Parse(Minimal(top: """, "storage": [{ "mount_path": "/data/", "empty_dir": {} }, { "mount_path": "/data", "host": { "path": "/x" } }]"""));

        ErrorAt(result, "storage[1].mount_path").Message.Should().Be("/data is already mounted by storage[0]");
    }

    [Fact]
    public void Parse_StorageProperties_AcceptedWithoutWarnings()
    {
        var result = SpecParser.Parse(Minimal(top: """, "storage": [{ "mount_path": "/data", "empty_dir": {}, "properties": { "resource_type": "model" } }]"""));

        result.IsValid.Should().BeTrue();
        result.Warnings.Should().BeEmpty();
    }

    [Fact]
    public void Parse_FeatureKeysWithDots_AreNotSplit()
    {
        var result = SpecParser.Parse(Minimal(
            metadataExtra: """, "gpu": 1""",
            top: """, "features": { "eas.aliyun.com/gpu-driver-version": "tesla=550" }, "features.eas.aliyun.com/extra": "1", "labels": { "a.b": "c" } """));

        result.Errors.Should().BeEmpty();
        result.Spec!.GpuDriverVersion.Should().Be("550");
        result.Warnings.Select(w => w.Path).Should().BeEquivalentTo("features[\"eas.aliyun.com/extra\"]", "labels");
    }

    [Fact]
    public void Parse_DuplicateKeyWithDifferentValues_IsAnError()
    {
        var result = SpecParser.Parse(Minimal(metadataExtra: """, "instance": 1, "instance": 2"""));

        ErrorAt(result, "metadata.instance");
    }

    [Fact]
    public void Parse_DeeplyNestedJson_ReportsInsteadOfThrowing()
    {
        var json = new string('[', 10_000) + new string(']', 10_000);

        var result = SpecParser.Parse(json);

        result.Errors.Should().ContainSingle().Which.Path.Should().Be("$");
    }
}
