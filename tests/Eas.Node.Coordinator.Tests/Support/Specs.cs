using System.Text.Json.Nodes;

namespace Eas.Node.Coordinator.Tests.Support;

/// <summary>EAS service JSON for tests.</summary>
internal static class Specs
{
    public static string Demo(string name = "demo", int instances = 2, int memoryMb = 512, string? token = null, int port = 8000)
    {
        var spec = new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = name, ["instance"] = instances, ["cpu"] = 1, ["memory"] = memoryMb },
            ["containers"] = new JsonArray(new JsonObject
            {
                ["image"] = "host",
                ["script"] = $"python3 -m http.server {port}",
                ["port"] = port,
                ["env"] = new JsonArray(new JsonObject { ["name"] = "GREETING", ["value"] = "hello" }),
            }),
            ["storage"] = new JsonArray(new JsonObject
            {
                ["mount_path"] = "/mnt/data/",
                ["host"] = new JsonObject { ["path"] = "/tmp", ["readOnly"] = true },
            }),
        };
        if (token is not null)
        {
            spec["token"] = token;
        }

        return spec.ToJsonString();
    }
}
