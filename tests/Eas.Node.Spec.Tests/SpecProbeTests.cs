using CsCheck;

namespace Eas.Node.Spec.Tests;

/// <summary>Health probes (<c>containers[0].startup_check / readiness_check / liveness_check / health_check</c>) and <c>runtime</c>.</summary>
public sealed class SpecProbeTests
{
    private static string Spec(string containerExtra, string top = "") => $$"""
        { "metadata": { "name": "svc_one" },
          "containers": [{ "image": "host", "port": 8000, "script": "python3 app.py" {{containerExtra}} }] {{top}} }
        """;

    private static SpecParseResult Parse(string containerExtra, string top = "") => SpecParser.Parse(Spec(containerExtra, top));

    private static ContainerSpec Valid(string containerExtra)
    {
        var result = Parse(containerExtra);
        result.Errors.Should().BeEmpty();
        result.Warnings.Should().BeEmpty();
        return result.Spec!.Container!;
    }

    private static SpecDiagnostic ErrorAt(SpecParseResult result, string path) =>
        result.Errors.Should().ContainSingle(e => e.Path == path, $"errors were: {string.Join(" | ", result.Errors)}").Subject;

    [Fact]
    public void Parse_NoProbes_AllNullAndNoCrashBlock()
    {
        var result = Parse("");

        result.Spec!.Container!.StartupCheck.Should().BeNull();
        result.Spec.Container.ReadinessCheck.Should().BeNull("no readiness check means the default TCP check on the port");
        result.Spec.Container.LivenessCheck.Should().BeNull();
        result.Spec.EnableCrashBlock.Should().BeFalse();
    }

    [Fact]
    public void Parse_HttpGetWithOnlyAPath_TakesKubernetesDefaults()
    {
        var container = Valid(""", "readiness_check": { "http_get": { "path": "/health" } }""");

        container.ReadinessCheck.Should().Be(new ProbeSpec { HttpGet = new HttpGetProbe("/health", null, "HTTP") });
        var probe = container.ReadinessCheck!;
        (probe.InitialDelaySeconds, probe.PeriodSeconds, probe.TimeoutSeconds, probe.FailureThreshold, probe.SuccessThreshold)
            .Should().Be((0, 10, 1, 3, 1));
        probe.Kind.Should().Be("http_get");
    }

    [Fact]
    public void Parse_EveryKindAndNumber_IsRead()
    {
        var container = Valid("""
            , "startup_check": { "exec": { "command": ["sh", "-c", "test -f /tmp/loaded"] }, "period_seconds": 2, "failure_threshold": 60 },
              "readiness_check": { "http_get": { "path": "/v1/models?x=1", "port": 8001, "scheme": "https" },
                                   "initial_delay_seconds": 5, "period_seconds": 3, "timeout_seconds": 2, "failure_threshold": 4, "success_threshold": 2 },
              "liveness_check": { "tcp_socket": { "port": 8000 }, "timeout_seconds": 5 }
            """);

        container.StartupCheck.Should().Be(new ProbeSpec { Exec = new ExecProbe(["sh", "-c", "test -f /tmp/loaded"]), PeriodSeconds = 2, FailureThreshold = 60 });
        container.ReadinessCheck.Should().Be(new ProbeSpec
        {
            HttpGet = new HttpGetProbe("/v1/models?x=1", 8001, "HTTPS"),
            InitialDelaySeconds = 5,
            PeriodSeconds = 3,
            TimeoutSeconds = 2,
            FailureThreshold = 4,
            SuccessThreshold = 2,
        });
        container.LivenessCheck.Should().Be(new ProbeSpec { TcpSocket = new TcpSocketProbe(8000), TimeoutSeconds = 5 });
        new[] { container.StartupCheck!.Kind, container.ReadinessCheck!.Kind, container.LivenessCheck!.Kind }.Should().Equal("exec", "http_get", "tcp_socket");
    }

    [Fact]
    public void Parse_EmptyHttpGetAndTcpSocket_DefaultToRootPathAndTheContainerPort()
    {
        var container = Valid(""", "readiness_check": { "http_get": {} }, "liveness_check": { "tcp_socket": {} }""");

        container.ReadinessCheck!.HttpGet.Should().Be(new HttpGetProbe("/", null, "HTTP"));
        container.LivenessCheck!.TcpSocket.Should().Be(new TcpSocketProbe(null), "a null port means containers[0].port");
    }

    [Fact]
    public void Parse_HealthCheck_IsTheOlderNameOfReadinessCheck()
    {
        var container = Valid(""", "health_check": { "tcp_socket": {}, "period_seconds": 1 }""");

        container.ReadinessCheck.Should().Be(new ProbeSpec { TcpSocket = new TcpSocketProbe(null), PeriodSeconds = 1 });
    }

    [Fact]
    public void Parse_DottedProbeKeys_AreTheNestedOnes()
    {
        var container = Valid(""", "readiness_check.http_get.path": "/ok", "readiness_check.period_seconds": 1""");

        container.ReadinessCheck.Should().Be(new ProbeSpec { HttpGet = new HttpGetProbe("/ok", null, "HTTP"), PeriodSeconds = 1 });
    }

    [Theory]
    [InlineData("\"health_check\": { \"tcp_socket\": {} }, \"readiness_check\": { \"tcp_socket\": {} }", "containers[0].health_check", "older name of readiness_check, and both are given", "remove health_check")]
    [InlineData("\"readiness_check\": 5", "containers[0].readiness_check", "must be an object, got 5", "give an object")]
    [InlineData("\"readiness_check\": {}", "containers[0].readiness_check", "has no check; exactly one of http_get, tcp_socket, exec is required", "\"http_get\": {\"path\": \"/health\"}")]
    [InlineData("\"readiness_check\": { \"period_seconds\": 5 }", "containers[0].readiness_check", "has no check", "tcp_socket")]
    [InlineData("\"liveness_check\": { \"http_get\": {}, \"tcp_socket\": {} }", "containers[0].liveness_check", "has http_get and tcp_socket; exactly one check is allowed", "keep one of http_get, tcp_socket")]
    [InlineData("\"readiness_check\": { \"http_get\": \"/health\" }", "containers[0].readiness_check.http_get", "must be an object, got the string \"/health\"", "give an object")]
    [InlineData("\"readiness_check\": { \"http_get\": { \"path\": \"health\" } }", "containers[0].readiness_check.http_get.path", "\"health\" is not a request path: it must start with /", "\"/health\"")]
    [InlineData("\"readiness_check\": { \"http_get\": { \"path\": \"/a b\" } }", "containers[0].readiness_check.http_get.path", "no spaces or control characters", "%20")]
    [InlineData("\"readiness_check\": { \"http_get\": { \"path\": 5 } }", "containers[0].readiness_check.http_get.path", "must be a string, got 5", "put it in quotes")]
    [InlineData("\"readiness_check\": { \"http_get\": { \"port\": 0 } }", "containers[0].readiness_check.http_get.port", "0 is out of range; port must be 1 to 65535", "remove it to use containers[0].port")]
    [InlineData("\"readiness_check\": { \"http_get\": { \"port\": \"8000\" } }", "containers[0].readiness_check.http_get.port", "must be a whole number, got the string \"8000\"", "write 8000 without quotes")]
    [InlineData("\"readiness_check\": { \"http_get\": { \"scheme\": \"ftp\" } }", "containers[0].readiness_check.http_get.scheme", "\"ftp\" is not a scheme; it must be HTTP or HTTPS", "\"HTTPS\"")]
    [InlineData("\"readiness_check\": { \"tcp_socket\": { \"port\": 70000 } }", "containers[0].readiness_check.tcp_socket.port", "70000 is out of range; port must be 1 to 65535", "containers[0].port")]
    [InlineData("\"liveness_check\": { \"tcp_socket\": [] }", "containers[0].liveness_check.tcp_socket", "must be an object, got an array", "give an object")]
    [InlineData("\"readiness_check\": { \"exec\": {} }", "containers[0].readiness_check.exec.command", "is required", "[\"cat\", \"/tmp/ready\"]")]
    [InlineData("\"readiness_check\": { \"exec\": { \"command\": \"test -f /tmp/ready\" } }", "containers[0].readiness_check.exec.command", "must be an array of strings, got the string \"test -f /tmp/ready\"", "[\"sh\", \"-c\", \"test -f /tmp/ready\"]")]
    [InlineData("\"readiness_check\": { \"exec\": { \"command\": [] } }", "containers[0].readiness_check.exec.command", "must name a program to run", "[\"cat\", \"/tmp/ready\"]")]
    [InlineData("\"readiness_check\": { \"exec\": { \"command\": [\" \", \"x\"] } }", "containers[0].readiness_check.exec.command", "must name a program to run", "sh")]
    [InlineData("\"readiness_check\": { \"exec\": { \"command\": [\"test\", 1] } }", "containers[0].readiness_check.exec.command[1]", "must be a string, got 1", "put it in quotes: \"1\"")]
    [InlineData("\"readiness_check\": { \"exec\": { \"command\": 7 } }", "containers[0].readiness_check.exec.command", "must be an array, got 7", "give an array")]
    [InlineData("\"readiness_check\": { \"tcp_socket\": {}, \"initial_delay_seconds\": -1 }", "containers[0].readiness_check.initial_delay_seconds", "-1 is out of range; initial_delay_seconds must be 0 to 86400", "default 0")]
    [InlineData("\"readiness_check\": { \"tcp_socket\": {}, \"period_seconds\": 0 }", "containers[0].readiness_check.period_seconds", "0 is out of range; period_seconds must be 1 to 3600", "default 10")]
    [InlineData("\"readiness_check\": { \"tcp_socket\": {}, \"period_seconds\": 0.5 }", "containers[0].readiness_check.period_seconds", "must be a whole number, got 0.5", "default 10")]
    [InlineData("\"readiness_check\": { \"tcp_socket\": {}, \"timeout_seconds\": 0 }", "containers[0].readiness_check.timeout_seconds", "0 is out of range; timeout_seconds must be 1 to 3600", "default 1")]
    [InlineData("\"readiness_check\": { \"tcp_socket\": {}, \"failure_threshold\": 0 }", "containers[0].readiness_check.failure_threshold", "0 is out of range; failure_threshold must be 1 to 10000", "3 (the default)")]
    [InlineData("\"readiness_check\": { \"tcp_socket\": {}, \"success_threshold\": 0 }", "containers[0].readiness_check.success_threshold", "0 is out of range; success_threshold must be 1 to 10000", "1 (the default)")]
    [InlineData("\"readiness_check\": { \"tcp_socket\": {}, \"period_seconds\": \"5\" }", "containers[0].readiness_check.period_seconds", "must be a whole number, got the string \"5\"", "write 5 without quotes")]
    [InlineData("\"liveness_check\": { \"tcp_socket\": {}, \"success_threshold\": 2 }", "containers[0].liveness_check.success_threshold", "2 is not allowed; success_threshold must be 1 for liveness_check", "use readiness_check")]
    [InlineData("\"startup_check\": { \"tcp_socket\": {}, \"success_threshold\": 3 }", "containers[0].startup_check.success_threshold", "3 is not allowed; success_threshold must be 1 for startup_check", "remove success_threshold")]
    public void Parse_BadProbe_ErrorAtPathWithRuleAndFix(string probe, string path, string message, string fix)
    {
        var result = Parse(", " + probe);

        result.Spec.Should().BeNull();
        var error = ErrorAt(result, path);
        error.Message.Should().Contain(message);
        error.Fix.Should().Contain(fix);
    }

    [Fact]
    public void Parse_SeveralBadProbes_ReportsEveryError()
    {
        var result = Parse("""
            , "startup_check": { "tcp_socket": { "port": 0 } },
              "readiness_check": { "exec": { "command": [] }, "period_seconds": 0 },
              "liveness_check": {}
            """);

        result.Errors.Select(e => e.Path).Should().BeEquivalentTo(
            "containers[0].startup_check.tcp_socket.port",
            "containers[0].readiness_check.exec.command",
            "containers[0].readiness_check.period_seconds",
            "containers[0].liveness_check");
    }

    [Fact]
    public void Parse_UnknownProbeKeys_AreWarnings()
    {
        var result = Parse("""
            , "readiness_check": { "http_get": { "path": "/h", "httpHeaders": [] }, "periodSeconds": 3 },
              "liveness_check": { "tcp_socket": { "host": "x" } }, "startup_check": { "exec": { "command": ["true"], "env": [] } }
            """);

        result.IsValid.Should().BeTrue();
        result.Warnings.Select(w => (w.Path, w.Message)).Should().BeEquivalentTo(new[]
        {
            ("containers[0].readiness_check.http_get.httpHeaders", "unknown key \"httpHeaders\", ignored"),
            ("containers[0].readiness_check.periodSeconds", "unknown key \"periodSeconds\", ignored"),
            ("containers[0].liveness_check.tcp_socket.host", "unknown key \"host\", ignored"),
            ("containers[0].startup_check.exec.env", "unknown key \"env\", ignored"),
        });
        result.Warnings.Single(w => w.Path == "containers[0].readiness_check.periodSeconds").Fix.Should().Contain("period_seconds");
    }

    [Fact]
    public void Parse_CrashBlock_IsRead()
    {
        SpecParser.Parse(Spec("", """, "runtime": { "enable_crash_block": true }""")).Spec!.EnableCrashBlock.Should().BeTrue();
        SpecParser.Parse(Spec("", """, "runtime.enable_crash_block": true""")).Spec!.EnableCrashBlock.Should().BeTrue();
        SpecParser.Parse(Spec("", """, "runtime": { "enable_crash_block": false }""")).Spec!.EnableCrashBlock.Should().BeFalse();
        SpecParser.Parse(Spec("", """, "runtime": {}""")).Warnings.Should().BeEmpty();
    }

    [Fact]
    public void Parse_BadRuntime_ErrorsWithFix()
    {
        var quoted = SpecParser.Parse(Spec("", """, "runtime": { "enable_crash_block": "true" }"""));
        ErrorAt(quoted, "runtime.enable_crash_block").Message.Should().Contain("must be true or false");
        ErrorAt(quoted, "runtime.enable_crash_block").Fix.Should().Contain("write true without quotes");

        var notObject = SpecParser.Parse(Spec("", """, "runtime": true"""));
        ErrorAt(notObject, "runtime").Message.Should().Contain("must be an object");
    }

    [Fact]
    public void Parse_OtherRuntimeKeys_AreWarningsThatSayWhatToDo()
    {
        var result = SpecParser.Parse(Spec("", """, "runtime": { "enable_crash_block": true, "termination_grace_period": 10, "cuda": "12.1", "colour": 1 }"""));

        result.IsValid.Should().BeTrue();
        result.Spec!.TerminationGracePeriodSeconds.Should().Be(30, "the alias is not read; the warning says so");
        result.Warnings.Select(w => w.Path).Should().BeEquivalentTo("runtime.termination_grace_period", "runtime.cuda", "runtime.colour");
        result.Warnings.Single(w => w.Path == "runtime.termination_grace_period").Fix.Should().Contain("metadata.eas.termination_grace_period");
        result.Warnings.Single(w => w.Path == "runtime.cuda").Message.Should().Be("ignored on a self-hosted cluster");
    }

    [Fact]
    public void ToJson_Probes_AreWrittenWithEveryNumberAndReadBackEqual()
    {
        var spec = SpecParser.Parse(Spec("""
            , "startup_check": { "exec": { "command": ["cat", "/tmp/a b"] } },
              "health_check": { "http_get": { "path": "/h", "scheme": "Https" }, "success_threshold": 2 },
              "liveness_check": { "tcp_socket": {}, "period_seconds": 1 }
            """, """, "runtime": { "enable_crash_block": true }""")).Spec!;

        var json = SpecWriter.ToJson(spec);

        json.Should().Contain("\"readiness_check\"", "health_check is written under its current name").And.NotContain("health_check");
        json.Should().Contain("\"initial_delay_seconds\": 0").And.Contain("\"scheme\": \"HTTPS\"").And.Contain("\"enable_crash_block\": true");
        var http = System.Text.Json.Nodes.JsonNode.Parse(json)!["containers"]![0]!["readiness_check"]!["http_get"]!.AsObject();
        http.ContainsKey("port").Should().BeFalse("a probe port is written only when one was given");
        var back = SpecParser.Parse(json);
        back.Errors.Should().BeEmpty();
        back.Warnings.Should().BeEmpty();
        back.Spec.Should().Be(spec);
        SpecWriter.ToJson(back.Spec!).Should().Be(json);
    }

    [Fact]
    public void ToJson_NoProbesNoCrashBlock_WritesNeither()
    {
        var json = SpecWriter.ToJson(SpecParser.Parse(Spec("")).Spec!);

        json.Should().NotContain("_check").And.NotContain("runtime");
    }

    [Fact]
    public void Equals_ProbeOrCrashBlockChanged_IsNotEqual()
    {
        var spec = SpecParser.Parse(Spec(""", "readiness_check": { "exec": { "command": ["true"] } }""")).Spec!;
        var container = spec.Container!;
        var probe = container.ReadinessCheck!;
        var changed = new[]
        {
            spec with { EnableCrashBlock = true },
            spec with { Container = container with { ReadinessCheck = null } },
            spec with { Container = container with { StartupCheck = probe } },
            spec with { Container = container with { LivenessCheck = probe } },
            spec with { Container = container with { ReadinessCheck = probe with { Exec = new ExecProbe(["false"]) } } },
            spec with { Container = container with { ReadinessCheck = probe with { PeriodSeconds = 1 } } },
            spec with { Container = container with { ReadinessCheck = probe with { TimeoutSeconds = 2 } } },
            spec with { Container = container with { ReadinessCheck = probe with { InitialDelaySeconds = 2 } } },
            spec with { Container = container with { ReadinessCheck = probe with { FailureThreshold = 2 } } },
            spec with { Container = container with { ReadinessCheck = probe with { SuccessThreshold = 2 } } },
            spec with { Container = container with { ReadinessCheck = new ProbeSpec { TcpSocket = new TcpSocketProbe(null) } } },
        };

        changed.Should().OnlyContain(c => !c.Equals(spec));
        (spec with { Container = container with { ReadinessCheck = probe with { Exec = new ExecProbe(["true"]) } } }).Should().Be(spec);
        new ExecProbe(["a", "b"]).GetHashCode().Should().Be(new ExecProbe(["a", "b"]).GetHashCode());
    }

    private static readonly Gen<string> _word = Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789_"].Array[1, 10].Select(c => new string(c));

    private static readonly Gen<ProbeSpec> _probe =
        Gen.Select(
            Gen.Int[0, 2],
            Gen.Select(_word.Array[0, 3].Select(p => "/" + string.Join('/', p)), Gen.Int[1, 65535].Nullable(0.5), Gen.Bool),
            Gen.Char["abcz09 -/'\"\\$\u00e9"].Array[0, 8].Select(c => new string(c)).Array[0, 3],
            Gen.Select(Gen.Int[0, 86400], Gen.Int[1, 3600], Gen.Int[1, 3600], Gen.Int[1, 10000], Gen.Int[1, 10000]),
            (kind, http, args, numbers) => new ProbeSpec
            {
                HttpGet = kind == 0 ? new HttpGetProbe(http.Item1, http.Item2, http.Item3 ? "HTTPS" : "HTTP") : null,
                TcpSocket = kind == 1 ? new TcpSocketProbe(http.Item2) : null,
                Exec = kind == 2 ? new ExecProbe(["run", .. args]) : null,
                InitialDelaySeconds = numbers.Item1,
                PeriodSeconds = numbers.Item2,
                TimeoutSeconds = numbers.Item3,
                FailureThreshold = numbers.Item4,
                SuccessThreshold = numbers.Item5,
            });

    [Fact]
    public void ToJson_AnyProbes_ParseBackToAnEqualSpec()
    {
        var baseSpec = SpecParser.Parse(Spec("")).Spec!;
        Gen.Select(_probe.Null(0.4), _probe.Null(0.4), _probe.Null(0.4), Gen.Bool).Sample((startup, readiness, liveness, crashBlock) =>
        {
            var spec = baseSpec with
            {
                EnableCrashBlock = crashBlock,
                Container = baseSpec.Container! with
                {
                    StartupCheck = startup is null ? null : startup with { SuccessThreshold = 1 },
                    ReadinessCheck = readiness,
                    LivenessCheck = liveness is null ? null : liveness with { SuccessThreshold = 1 },
                },
            };
            var json = SpecWriter.ToJson(spec);

            var result = SpecParser.Parse(json);

            result.Errors.Should().BeEmpty(json);
            result.Warnings.Should().BeEmpty(json);
            result.Spec.Should().Be(spec, json);
            result.Spec!.GetHashCode().Should().Be(spec.GetHashCode());
            SpecWriter.ToJson(result.Spec).Should().Be(json);
        }, iter: 500);
    }
}
