using System.Text.Json.Nodes;

namespace Eas.Node.Agent.Runtime;

/// <summary>One entry of an OCI config's <c>mounts</c>.</summary>
/// <param name="Destination">The absolute path inside the container.</param>
/// <param name="Type">"bind", "tmpfs", "proc"…</param>
/// <param name="Source">The host path for binds, the file system name otherwise.</param>
/// <param name="Options">Mount options ("rbind", "ro", "size=64m"…).</param>
public sealed record OciMount(string Destination, string Type, string Source, IReadOnlyList<string> Options)
{
    /// <summary>A read-only or read-write recursive bind mount.</summary>
    public static OciMount Bind(string source, string destination, bool readOnly)
        => new(destination, "bind", source, readOnly ? ["rbind", "ro", "nosuid", "nodev"] : ["rbind", "rw", "nosuid", "nodev"]);

    /// <summary>A tmpfs, sized when <paramref name="sizeMib"/> is positive.</summary>
    public static OciMount Tmpfs(string destination, long sizeMib, string mode = "1777", bool noExec = false)
    {
        List<string> options = ["nosuid", "nodev", "mode=" + mode];
        if (noExec)
        {
            options.Add("noexec");
        }

        if (sizeMib > 0)
        {
            options.Add($"size={sizeMib}m");
        }

        return new(destination, "tmpfs", "tmpfs", options);
    }

    /// <summary>The JSON form.</summary>
    public JsonObject ToJson() => new()
    {
        ["destination"] = Destination,
        ["type"] = Type,
        ["source"] = Source,
        ["options"] = new JsonArray(Options.Select(o => (JsonNode?)JsonValue.Create(o)).ToArray()),
    };
}

/// <summary>A character device the container gets (<c>linux.devices</c>) and may use (<c>linux.resources.devices</c>).</summary>
/// <param name="Path">The path inside the container.</param>
/// <param name="Major">The device major.</param>
/// <param name="Minor">The device minor.</param>
public sealed record OciDevice(string Path, long Major, long Minor)
{
    /// <summary>The <c>linux.devices</c> entry: runc creates the node inside the container.</summary>
    public JsonObject ToJson() => new()
    {
        ["path"] = Path,
        ["type"] = "c",
        ["major"] = Major,
        ["minor"] = Minor,
        ["fileMode"] = 438,
        ["uid"] = 0,
        ["gid"] = 0,
    };

    /// <summary>The <c>linux.resources.devices</c> rule that allows it in the device cgroup.</summary>
    public JsonObject ToCgroupRule() => new()
    {
        ["allow"] = true,
        ["type"] = "c",
        ["major"] = Major,
        ["minor"] = Minor,
        ["access"] = "rwm",
    };
}
