using System.Text.Json.Nodes;

namespace Eas.Node.Spec.Tests;

public sealed class SpecDocumentTests
{
    private const string Base = """
        { "metadata": { "name": "svc_one", "instance": 2, "rpc.keepalive": 5000 },
          "containers": [{ "image": "host", "script": "python3 app.py", "port": 8000, "env": [{ "name": "A", "value": "1" }] }],
          "token": "abc" }
        """;

    private static JsonNode Json(string text) => JsonNode.Parse(text)!;

    [Fact]
    public void Merge_PatchWithDottedKeys_MergesIntoNestedObjects()
    {
        var merged = SpecDocument.Merge(Base, """{ "metadata.instance": 5, "metadata": { "rpc": { "enable_sigterm": true } } }""");

        JsonNode.DeepEquals(Json(merged), Json("""
            { "metadata": { "name": "svc_one", "instance": 5, "rpc": { "keepalive": 5000, "enable_sigterm": true } },
              "containers": [{ "image": "host", "script": "python3 app.py", "port": 8000, "env": [{ "name": "A", "value": "1" }] }],
              "token": "abc" }
            """)).Should().BeTrue(merged);
    }

    [Fact]
    public void Merge_ArraysAndScalars_AreReplacedNotMerged()
    {
        var merged = SpecDocument.Merge(Base, """{ "containers": [{ "image": "host", "command": ["x"], "port": 9000 }], "token": "new" }""");

        var node = Json(merged);
        JsonNode.DeepEquals(node["containers"], Json("""[{ "image": "host", "command": ["x"], "port": 9000 }]""")).Should().BeTrue();
        node["token"]!.GetValue<string>().Should().Be("new");
        node["metadata"]!["instance"]!.GetValue<int>().Should().Be(2);
    }

    [Fact]
    public void Merge_NullInPatch_RemovesTheKey()
    {
        var merged = SpecDocument.Merge(Base, """{ "token": null, "metadata": { "rpc": { "keepalive": null } } }""");

        var node = Json(merged).AsObject();
        node.ContainsKey("token").Should().BeFalse();
        node["metadata"]!["rpc"]!.AsObject().Should().BeEmpty();
    }

    [Fact]
    public void Merge_Result_ParsesAsTheUpdatedSpec()
    {
        var merged = SpecDocument.Merge(Base, """{ "metadata": { "instance": 0 } }""");

        var result = SpecParser.Parse(merged);

        result.Errors.Should().BeEmpty();
        result.Spec!.Instance.Should().Be(0);
        result.Spec.KeepaliveMs.Should().Be(5000);
    }

    [Theory]
    [InlineData("{ \"metadata\": ", "{}", "the current spec is not valid JSON at line 1")]
    [InlineData("{}", "[1]", "the patch must be a JSON object, got an array")]
    [InlineData("{}", "nope", "the patch is not valid JSON")]
    [InlineData("{}", "{ \"rpc.keepalive\": 1, \"rpc\": { \"keepalive\": 2 } }", "the patch cannot be read: rpc.keepalive is set twice")]
    public void Merge_InvalidDocument_ThrowsWithAClearMessage(string baseJson, string patchJson, string message)
    {
        var act = () => SpecDocument.Merge(baseJson, patchJson);

        act.Should().Throw<SpecDocumentException>().Which.Message.Should().StartWith(message);
    }

    [Theory]
    [InlineData("metadata.instance", "3", "3")]
    [InlineData("metadata.rpc.keepalive", "60000", "60000")]
    [InlineData("metadata.rpc.enable_sigterm", "true", "true")]
    [InlineData("metadata.name", "other_svc", "\"other_svc\"")]
    [InlineData("metadata.name", "\"007\"", "\"007\"")]
    [InlineData("metadata.name", "007", "\"007\"")]
    [InlineData("containers[0].script", "python3 serve.py --workers 2", "\"python3 serve.py --workers 2\"")]
    [InlineData("containers[0].command", "[\"python3\", \"app.py\"]", "[\"python3\", \"app.py\"]")]
    [InlineData("metadata.shm_size", "", "\"\"")]
    public void SetValue_Key_SetsTheParsedValue(string key, string value, string expectedJson)
    {
        var updated = Json(SpecDocument.SetValue(Base, key, value));

        var target = key.Split('.').Aggregate(updated, (node, part) => part.EndsWith("[0]", StringComparison.Ordinal) ? node[part[..^3]]![0]! : node[part]!);
        JsonNode.DeepEquals(target, Json(expectedJson)).Should().BeTrue(target.ToJsonString());
    }

    [Fact]
    public void SetValue_Instance_ParsesToTheNewReplicaCount()
    {
        var result = SpecParser.Parse(SpecDocument.SetValue(Base, "metadata.instance", "3"));

        result.Spec!.Instance.Should().Be(3);
    }

    [Fact]
    public void SetValue_IndexEqualToLength_Appends()
    {
        var updated = Json(SpecDocument.SetValue(Base, "containers[0].env[1]", """{ "name": "B", "value": "2" }"""));

        updated["containers"]![0]!["env"]!.AsArray().Select(e => e!["name"]!.GetValue<string>()).Should().Equal("A", "B");
    }

    [Fact]
    public void SetValue_MissingObjects_AreCreated()
    {
        var updated = Json(SpecDocument.SetValue("{}", "metadata.eas.termination_grace_period", "90"));

        updated["metadata"]!["eas"]!["termination_grace_period"]!.GetValue<int>().Should().Be(90);
    }

    [Fact]
    public void SetValue_Null_RemovesTheKey()
    {
        var updated = Json(SpecDocument.SetValue(Base, "token", "null")).AsObject();

        updated.ContainsKey("token").Should().BeFalse();
    }

    [Fact]
    public void SetValue_MapKeyWithDots_StaysOneKey()
    {
        var updated = Json(SpecDocument.SetValue(Base, "features.eas.aliyun.com/gpu-driver-version", "tesla=550"));

        updated["features"]!["eas.aliyun.com/gpu-driver-version"]!.GetValue<string>().Should().Be("tesla=550");
    }

    [Theory]
    [InlineData("containers[5].port", "cannot set containers[5].port: containers has 1 element(s), so the index can be at most 1 (which appends)")]
    [InlineData("token.value", "cannot set token.value: token is a string, not an object")]
    [InlineData("metadata[0]", "cannot set metadata[0]: metadata is an object, not an array")]
    [InlineData("metadata..instance", "invalid key \"metadata..instance\"")]
    [InlineData("", "invalid key \"\"")]
    [InlineData("containers[x]", "invalid key \"containers[x]\"")]
    public void SetValue_KeyThatDoesNotFit_Throws(string key, string message)
    {
        var act = () => SpecDocument.SetValue(Base, key, "1");

        act.Should().Throw<SpecDocumentException>().Which.Message.Should().StartWith(message);
    }
}
