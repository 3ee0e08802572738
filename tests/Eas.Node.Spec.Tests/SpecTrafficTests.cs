namespace Eas.Node.Spec.Tests;

/// <summary>
/// What the gateway does with a service's traffic: <c>metadata.type</c>, <c>group</c>, <c>enable_grpc</c>, <c>routing</c>,
/// <c>rpc.rate_limit</c>, <c>rpc.max_queue_size</c>, <c>networking.gateway_policy</c> and <c>sinker</c>.
/// </summary>
public sealed class SpecTrafficTests
{
    private static string Spec(string metadataExtra = "", string top = "") => $$"""
        { "metadata": { "name": "svc_one" {{metadataExtra}} },
          "containers": [{ "image": "host", "port": 8000, "script": "python3 app.py" }] {{top}} }
        """;

    private static string Router(string metadataExtra = "", string top = "") => $$"""
        { "metadata": { "name": "chat_router", "type": "LLMGatewayService" {{metadataExtra}} } {{top}} }
        """;

    private static SpecDiagnostic ErrorAt(SpecParseResult result, string path) =>
        result.Errors.Should().ContainSingle(e => e.Path == path, $"errors were: {string.Join(" | ", result.Errors)}").Subject;

    private static SpecDiagnostic WarningAt(SpecParseResult result, string path) =>
        result.Warnings.Should().ContainSingle(e => e.Path == path, $"warnings were: {string.Join(" | ", result.Warnings)}").Subject;

    private static ServiceSpec Valid(string json)
    {
        var result = SpecParser.Parse(json);
        result.Errors.Should().BeEmpty();
        result.Warnings.Should().BeEmpty();
        return result.Spec!;
    }

    [Fact]
    public void Parse_NoTrafficKeys_EasDefaults()
    {
        var spec = Valid(Spec());

        spec.Type.Should().Be(ServiceTypes.Standard);
        spec.IsLlmGateway.Should().BeFalse();
        spec.RunsInstances.Should().BeTrue();
        spec.Group.Should().BeNull();
        spec.EnableGrpc.Should().BeFalse();
        spec.Routing.Should().Be(ServiceRouting.LeastRequests);
        spec.RateLimit.Should().Be(0);
        spec.MaxQueueSize.Should().Be(64);
        spec.GatewayRateLimit.Should().BeNull();
        spec.GatewayConcurrencyLimit.Should().BeNull();
        spec.Sinker.Should().BeNull();
    }

    [Fact]
    public void Parse_EveryTrafficKeyNested_IsReadWithoutWarnings()
    {
        var spec = Valid(Spec(
            """, "type": "Standard", "group": "chat", "enable_grpc": true, "routing": "llm", "rpc": { "rate_limit": 20, "max_queue_size": 2 }""",
            """, "networking": { "gateway_policy": { "rate_limit": { "enable": true, "limit": 1000 }, "concurrency_limit": { "enable": false, "limit": 50 } } }"""
            + """, "sinker": { "type": "otlp", "config": { "endpoint": "http://127.0.0.1:4318", "max_body_bytes": 4096 } }"""));

        spec.Type.Should().Be(ServiceTypes.Standard);
        spec.Group.Should().Be("chat");
        spec.EnableGrpc.Should().BeTrue();
        spec.Routing.Should().Be(ServiceRouting.Llm);
        spec.RateLimit.Should().Be(20);
        spec.MaxQueueSize.Should().Be(2);
        spec.GatewayRateLimit.Should().Be(new GatewayLimit(true, 1000));
        spec.GatewayRateLimit!.Effective.Should().Be(1000);
        spec.GatewayConcurrencyLimit.Should().Be(new GatewayLimit(false, 50));
        spec.GatewayConcurrencyLimit!.Effective.Should().Be(0, "a disabled limit applies nothing");
        spec.Sinker.Should().Be(new SinkerSpec(SinkerTypes.Otlp, "http://127.0.0.1:4318", 4096));
    }

    [Fact]
    public void Parse_DottedTrafficKeys_SameAsNested()
    {
        var nested = Valid(Spec(
            """, "group": "chat", "rpc": { "rate_limit": 5, "max_queue_size": 256 }""",
            """, "networking": { "gateway_policy": { "concurrency_limit": { "enable": true, "limit": 8 } } }, "sinker": { "type": "file", "config": { "max_body_bytes": 100 } }"""));
        var dotted = Valid("""
            { "metadata.name": "svc_one", "metadata.group": "chat",
              "metadata": { "rpc.rate_limit": 5, "rpc.max_queue_size": 256 },
              "networking.gateway_policy.concurrency_limit": { "enable": true, "limit": 8 },
              "sinker.type": "file", "sinker.config.max_body_bytes": 100,
              "containers": [{ "image": "host", "port": 8000, "script": "python3 app.py" }] }
            """);

        dotted.Should().Be(nested);
        dotted.GatewayConcurrencyLimit!.Effective.Should().Be(8);
        dotted.Sinker.Should().Be(new SinkerSpec(SinkerTypes.File, null, 100));
    }

    [Theory]
    [InlineData("\"Blue.Green\"", "\"blue_green\"")]
    [InlineData("\"1st\"", "\"g_1st\"")]
    [InlineData("\"\"", "\"g_\"")]
    [InlineData("\"my-group\"", "\"my_group\"")]
    public void Parse_InvalidGroupName_ErrorWithASuggestion(string group, string suggestion)
    {
        var result = SpecParser.Parse(Spec($""", "group": {group}"""));

        var error = ErrorAt(result, "metadata.group");
        error.Message.Should().Contain("not a valid group name").And.Contain("no '.'");
        error.Fix.Should().Be($"use {suggestion}");
    }

    [Fact]
    public void Parse_GroupNameLimits_OneLetterAnd63CharactersAreFine_64IsNot()
    {
        Valid(Spec(""", "group": "g" """)).Group.Should().Be("g");
        Valid(Spec($""", "group": "{new string('a', 63)}" """)).Group.Should().HaveLength(63);
        ErrorAt(SpecParser.Parse(Spec($""", "group": "{new string('a', 64)}" """)), "metadata.group");
        ErrorAt(SpecParser.Parse(Spec(""", "group": 7""")), "metadata.group").Fix.Should().Be("put it in quotes: \"7\"");
    }

    [Theory]
    [InlineData("\"llmgatewayservice\"", "types are case-sensitive", "write \"LLMGatewayService\"")]
    [InlineData("\"standard\"", "types are case-sensitive", "write \"Standard\"")]
    [InlineData("\"Async\"", "\"Async\" services are not supported by Eas.Node", "remove metadata.type to deploy a Standard service")]
    [InlineData("\"queue\"", "\"Queue\" services are not supported by Eas.Node", "remove metadata.type to deploy a Standard service")]
    [InlineData("\"Web\"", "is not a service type; the types are \"Standard\" (the default) and \"LLMGatewayService\"", "remove metadata.type for a Standard service, or write \"LLMGatewayService\" for a group's LLM router")]
    public void Parse_UnsupportedType_ErrorSaysWhatRuns(string type, string message, string fix)
    {
        var error = ErrorAt(SpecParser.Parse(Spec($""", "type": {type}""")), "metadata.type");

        error.Message.Should().Contain(message);
        error.Fix.Should().Be(fix);
    }

    [Theory]
    [InlineData("least_requests", ServiceRouting.LeastRequests)]
    [InlineData("round_robin", ServiceRouting.RoundRobin)]
    [InlineData("llm", ServiceRouting.Llm)]
    public void Parse_Routing_EachPolicy(string name, ServiceRouting routing)
    {
        Valid(Spec($""", "routing": "{name}" """)).Routing.Should().Be(routing);
        ServiceRoutingNames.Name(routing).Should().Be(name);
    }

    [Fact]
    public void Parse_UnknownRouting_ErrorListsThePolicies()
    {
        var error = ErrorAt(SpecParser.Parse(Spec(""", "routing": "random" """)), "metadata.routing");

        error.Message.Should().Contain("\"random\" is not a routing policy").And.Contain("\"least_requests\", \"round_robin\", \"llm\"");
    }

    [Fact]
    public void Parse_EnableGrpcNotABool_Error()
    {
        ErrorAt(SpecParser.Parse(Spec(""", "enable_grpc": "true" """)), "metadata.enable_grpc").Fix.Should().Be("write true without quotes");
    }

    [Theory]
    [InlineData("\"rate_limit\": -1", "metadata.rpc.rate_limit", "out of range")]
    [InlineData("\"rate_limit\": 1000001", "metadata.rpc.rate_limit", "out of range")]
    [InlineData("\"rate_limit\": 2.5", "metadata.rpc.rate_limit", "must be a whole number")]
    [InlineData("\"max_queue_size\": 0", "metadata.rpc.max_queue_size", "out of range")]
    [InlineData("\"max_queue_size\": 100001", "metadata.rpc.max_queue_size", "out of range")]
    [InlineData("\"max_queue_size\": \"64\"", "metadata.rpc.max_queue_size", "must be a whole number")]
    public void Parse_RpcLimitOutOfRange_ErrorNamesTheRule(string rpc, string path, string message)
    {
        var error = ErrorAt(SpecParser.Parse(Spec($$""", "rpc": { {{rpc}} }""")), path);

        error.Message.Should().Contain(message);
        error.Fix.Length.Should().BeGreaterThan(0);
    }

    [Fact]
    public void Parse_RpcLimitRule_SaysWhatTheGatewayAnswers()
    {
        ErrorAt(SpecParser.Parse(Spec(""", "rpc": { "rate_limit": -1 }""")), "metadata.rpc.rate_limit").Message.Should().Contain("429");
        ErrorAt(SpecParser.Parse(Spec(""", "rpc": { "max_queue_size": 0 }""")), "metadata.rpc.max_queue_size").Message.Should().Contain("450");
    }

    [Theory]
    [InlineData("""{ "limit": 10 }""", "networking.gateway_policy.rate_limit.enable", "is required", "add \"enable\": true next to \"limit\"")]
    [InlineData("""{ "enable": true }""", "networking.gateway_policy.rate_limit.limit", "is required when enable is true", "add \"limit\": 1000, or set enable to false")]
    [InlineData("""{ "enable": true, "limit": 0 }""", "networking.gateway_policy.rate_limit.limit", "would refuse every request", "give at least 1, or set enable to false to turn the limit off")]
    [InlineData("""{ "enable": true, "limit": -5 }""", "networking.gateway_policy.rate_limit.limit", "out of range", "use e.g. 1000")]
    [InlineData("""{ "enable": "yes", "limit": 5 }""", "networking.gateway_policy.rate_limit.enable", "must be true or false", "give true or false")]
    [InlineData("""true""", "networking.gateway_policy.rate_limit", "must be an object", "give an object")]
    public void Parse_BadGatewayRateLimit_ErrorWithPathAndFix(string value, string path, string message, string fix)
    {
        var result = SpecParser.Parse(Spec(top: $$""", "networking": { "gateway_policy": { "rate_limit": {{value}} } }"""));

        var error = ErrorAt(result, path);
        error.Message.Should().Contain(message);
        error.Fix.Should().Be(fix);
    }

    [Fact]
    public void Parse_BadConcurrencyLimit_ErrorAtItsOwnPath()
    {
        var result = SpecParser.Parse(Spec(top: """, "networking": { "gateway_policy": { "concurrency_limit": { "enable": true } } }"""));

        ErrorAt(result, "networking.gateway_policy.concurrency_limit.limit").Fix.Should().Be("add \"limit\": 100, or set enable to false");
    }

    [Fact]
    public void Parse_DisabledLimitWithoutALimit_IsOff()
    {
        var spec = Valid(Spec(top: """, "networking": { "gateway_policy": { "rate_limit": { "enable": false } } }"""));

        spec.GatewayRateLimit.Should().Be(new GatewayLimit(false, 0));
        spec.GatewayRateLimit!.Effective.Should().Be(0);
    }

    [Fact]
    public void Parse_OtherNetworkingKeys_CloudOnlyOrUnknownWarnings()
    {
        var result = SpecParser.Parse(Spec(top: """, "networking": { "gateway": "gw-123", "disable_internet_endpoint": true, "colour": 1, "gateway_policy": { "burst": 3 } }"""));

        result.IsValid.Should().BeTrue();
        result.Warnings.Select(w => (w.Path, w.Message)).Should().BeEquivalentTo(new[]
        {
            ("networking.gateway", "ignored on a self-hosted cluster"),
            ("networking.disable_internet_endpoint", "ignored on a self-hosted cluster"),
            ("networking.colour", "unknown key \"colour\", ignored"),
            ("networking.gateway_policy.burst", "unknown key \"burst\", ignored"),
        });
        WarningAt(result, "networking.gateway_policy.burst").Fix.Should().Contain("rate_limit, concurrency_limit");
    }

    [Fact]
    public void Parse_FileSinker_NoConfigNeeded()
    {
        Valid(Spec(top: """, "sinker": { "type": "file" }""")).Sinker.Should().Be(new SinkerSpec(SinkerTypes.File, null, 0));
    }

    [Fact]
    public void Parse_FileSinkerWithEndpoint_WarnsAndIgnoresIt()
    {
        var result = SpecParser.Parse(Spec(top: """, "sinker": { "type": "file", "config": { "endpoint": "http://x:4318" } }"""));

        result.IsValid.Should().BeTrue();
        WarningAt(result, "sinker.config.endpoint").Message.Should().Contain("only read for type \"otlp\"");
        result.Spec!.Sinker.Should().Be(new SinkerSpec(SinkerTypes.File, null, 0));
    }

    [Theory]
    [InlineData("maxcompute")]
    [InlineData("sls")]
    public void Parse_CloudSinker_WarningAndNoRecords(string type)
    {
        var result = SpecParser.Parse(Spec(top: $$""", "sinker": { "type": "{{type}}", "config": { "{{type}}": { "project": "p" } } }"""));

        result.IsValid.Should().BeTrue();
        result.Warnings.Should().ContainSingle().Which.Path.Should().Be("sinker.type");
        result.Warnings[0].Message.Should().Contain("Alibaba Cloud sink").And.Contain("no call records are kept");
        result.Spec!.Sinker.Should().BeNull();
    }

    [Theory]
    [InlineData("""{ "config": {} }""", "sinker.type", "is required")]
    [InlineData("""{ "type": "kafka" }""", "sinker.type", "\"kafka\" is not a sink; the sinks are \"file\" and \"otlp\"")]
    [InlineData("""{ "type": "otlp" }""", "sinker.config.endpoint", "is required for type \"otlp\"")]
    [InlineData("""{ "type": "otlp", "config": { "endpoint": "ftp://x" } }""", "sinker.config.endpoint", "is not an http:// or https:// URL")]
    [InlineData("""{ "type": "otlp", "config": { "endpoint": "127.0.0.1:4318" } }""", "sinker.config.endpoint", "is not an http:// or https:// URL")]
    [InlineData("""{ "type": "otlp", "config": { "endpoint": "http://x:4318/?a=1" } }""", "sinker.config.endpoint", "has a query or fragment")]
    [InlineData("""{ "type": "file", "config": { "max_body_bytes": 16777217 } }""", "sinker.config.max_body_bytes", "out of range")]
    [InlineData("""{ "type": "file", "config": { "max_body_bytes": -1 } }""", "sinker.config.max_body_bytes", "out of range")]
    [InlineData("""{ "type": "file", "config": [] }""", "sinker.config", "must be an object")]
    [InlineData("""{ "type": 1 }""", "sinker.type", "must be a string")]
    public void Parse_BadSinker_ErrorWithPath(string sinker, string path, string message)
    {
        var result = SpecParser.Parse(Spec(top: $""", "sinker": {sinker}"""));

        ErrorAt(result, path).Message.Should().Contain(message);
        result.Spec.Should().BeNull();
    }

    [Fact]
    public void Parse_OtlpSinkerWithConfigOfTheWrongType_OneError()
    {
        var result = SpecParser.Parse(Spec(top: """, "sinker": { "type": "otlp", "config": "http://x:4318" }"""));

        result.Errors.Should().ContainSingle().Which.Path.Should().Be("sinker.config");
    }

    [Fact]
    public void Parse_OtlpEndpointWithPassword_ErrorNeverShowsThePassword()
    {
        var result = SpecParser.Parse(Spec(top: """, "sinker": { "type": "otlp", "config": { "endpoint": "https://u:hunter2@otel:4318" } }"""));

        var error = ErrorAt(result, "sinker.config.endpoint");
        error.Message.Should().Contain("must not carry a user name or password");
        error.ToString().Should().NotContain("hunter2");
    }

    [Fact]
    public void Parse_LlmGatewayService_NeedsNoContainersAndRunsNoInstances()
    {
        var spec = Valid(Router(""", "group": "chat" """));

        spec.Name.Should().Be("chat_router");
        spec.Type.Should().Be(ServiceTypes.LlmGateway);
        spec.IsLlmGateway.Should().BeTrue();
        spec.Group.Should().Be("chat");
        spec.Container.Should().BeNull();
        spec.RunsInstances.Should().BeFalse();
        spec.Instance.Should().Be(0);
    }

    [Fact]
    public void Parse_LlmGatewayServiceWithoutGroup_ErrorSaysItRoutesAGroup()
    {
        var result = SpecParser.Parse(Router());

        var error = ErrorAt(result, "metadata.group");
        error.Message.Should().Contain("is required for an LLMGatewayService");
        error.Fix.Should().Contain("\"group\"");
        result.Errors.Should().ContainSingle("no container is asked for");
    }

    [Fact]
    public void Parse_LlmGatewayServiceWithContainersAndInstances_WarnsAndRunsNone()
    {
        var result = SpecParser.Parse(Router(""", "group": "chat", "instance": 2 """, """, "containers": [{ "image": "vllm", "port": 8000 }]"""));

        result.IsValid.Should().BeTrue("the containers are not read, so their missing script is no error");
        WarningAt(result, "containers").Message.Should().Contain("an LLMGatewayService runs no instances");
        WarningAt(result, "metadata.instance").Message.Should().Contain("2 is ignored");
        result.Spec!.Instance.Should().Be(0);
        result.Spec.Container.Should().BeNull();
    }

    [Fact]
    public void Parse_StandardServiceWithoutContainers_StillAnError()
    {
        var result = SpecParser.Parse("""{ "metadata": { "name": "svc_one", "group": "chat" } }""");

        ErrorAt(result, "containers").Message.Should().Be("is required");
    }

    [Fact]
    public void Parse_TrafficKeys_NoLongerWarnedAsUnsupported()
    {
        var result = SpecParser.Parse(Spec(""", "group": "chat", "enable_grpc": false, "type": "Standard", "rpc": { "rate_limit": 0, "max_queue_size": 64 }""",
            """, "networking": { "gateway_policy": {} }, "sinker": { "type": "file" }"""));

        result.IsValid.Should().BeTrue();
        result.Warnings.Should().BeEmpty();
    }

    [Fact]
    public void ToJson_EveryTrafficField_CanonicalAndParsedBack()
    {
        var spec = Valid(Spec(
            """, "group": "chat", "enable_grpc": true, "routing": "round_robin", "rpc.rate_limit": 20, "rpc.max_queue_size": 2""",
            """, "networking.gateway_policy": { "rate_limit": { "enable": true, "limit": 30 }, "concurrency_limit": { "enable": false } }"""
            + """, "sinker": { "type": "otlp", "config": { "endpoint": "https://otel.local:4318/base" } }"""));

        var json = SpecWriter.ToJson(spec);

        json.Should().Contain("\"group\": \"chat\"").And.Contain("\"enable_grpc\": true").And.Contain("\"routing\": \"round_robin\"")
            .And.Contain("\"rate_limit\": 20,").And.Contain("\"max_queue_size\": 2")
            .And.Contain("\"gateway_policy\"").And.Contain("\"limit\": 30").And.Contain("\"endpoint\": \"https://otel.local:4318/base\"")
            .And.NotContain("\"type\": \"Standard\"").And.NotContain("max_body_bytes");
        var back = SpecParser.Parse(json);
        back.Warnings.Should().BeEmpty();
        back.Spec.Should().Be(spec);
        SpecWriter.ToJson(back.Spec!).Should().Be(json);
    }

    [Fact]
    public void ToJson_Defaults_WritesRpcLimitsButNoOptionalTrafficKeys()
    {
        var json = SpecWriter.ToJson(Valid(Spec()));

        json.Should().Contain("\"rate_limit\": 0,").And.Contain("\"max_queue_size\": 64")
            .And.NotContain("group").And.NotContain("enable_grpc").And.NotContain("routing").And.NotContain("networking")
            .And.NotContain("sinker").And.NotContain("\"type\"");
    }

    [Fact]
    public void ToJson_LlmGatewayService_NoContainersAndParsedBack()
    {
        var spec = Valid(Router(""", "group": "chat" """));

        var json = SpecWriter.ToJson(spec);

        json.Should().Contain("\"type\": \"LLMGatewayService\"").And.Contain("\"instance\": 0").And.NotContain("containers");
        var back = SpecParser.Parse(json);
        back.Warnings.Should().BeEmpty();
        back.Spec.Should().Be(spec);
        SpecWriter.ToJson(back.Spec!).Should().Be(json);
    }

    [Fact]
    public void Equals_AnyTrafficFieldChanged_IsNotEqual()
    {
        var spec = Valid(Spec(
            """, "group": "chat", "rpc": { "rate_limit": 5 }""",
            """, "networking": { "gateway_policy": { "rate_limit": { "enable": true, "limit": 9 }, "concurrency_limit": { "enable": true, "limit": 3 } } }, "sinker": { "type": "file" }"""));
        var changed = new[]
        {
            spec with { Type = ServiceTypes.LlmGateway }, spec with { Group = "other" }, spec with { Group = null }, spec with { EnableGrpc = true },
            spec with { Routing = ServiceRouting.Llm }, spec with { RateLimit = 6 }, spec with { MaxQueueSize = 65 },
            spec with { GatewayRateLimit = new GatewayLimit(false, 9) }, spec with { GatewayConcurrencyLimit = null },
            spec with { Sinker = new SinkerSpec(SinkerTypes.File, null, 1) }, spec with { Sinker = null }, spec with { Container = null },
        };

        changed.Should().OnlyContain(c => !c.Equals(spec));
        (spec with { GatewayRateLimit = new GatewayLimit(true, 9), Sinker = new SinkerSpec(SinkerTypes.File, null, 0) }).Should().Be(spec);
    }
}
