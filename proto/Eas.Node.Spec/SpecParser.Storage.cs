using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Eas.Node.Spec.Parsing;

namespace Eas.Node.Spec;

public static partial class SpecParser
{
    /// <summary>Kernel file systems an instance must not have covered by a mount; /dev/shm is the exception.</summary>
    private static readonly string[] _systemFolders = ["/proc", "/sys", "/dev"];

    private const long MaxSizeLimitMib = 64L * 1024 * 1024;

    /// <summary>One <c>storage[]</c> entry as read, kept even when it has errors so that cache sources are judged against what was meant.</summary>
    /// <param name="Index">The entry's index in <c>storage</c>.</param>
    /// <param name="MountPath">The clean mount path, or null when it is wrong.</param>
    /// <param name="Kind">The entry's one kind, or null when it has none or several.</param>
    /// <param name="Spec">The entry, or null when it has an error.</param>
    private sealed record StorageEntry(int Index, string? MountPath, string? Kind, StorageSpec? Spec);

    private static IReadOnlyList<StorageSpec> ReadStorage(JsonObject root, SpecReader reader, SpecParseOptions options)
    {
        if (reader.Array(root, SpecPath.Root, "storage") is not { } items)
        {
            return [];
        }

        var entries = new List<StorageEntry>();
        var mountedBy = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < items.Count; i++)
        {
            var path = SpecPath.Index("storage", i);
            if (reader.Object(items[i], path) is not { } item)
            {
                continue;
            }

            var mountPath = ReadMountPath(item, path, reader);
            if (mountPath is not null && mountedBy.TryGetValue(mountPath, out var first))
            {
                reader.Error(SpecPath.Child(path, "mount_path"), $"{mountPath} is already mounted by storage[{first}]", "give each storage entry its own mount_path");
            }
            else if (mountPath is not null)
            {
                mountedBy[mountPath] = i;
            }

            ReadProperties(item, path, reader);
            var entry = ReadStorageSource(item, path, reader, options, out var kind);
            entries.Add(new StorageEntry(i, mountPath, kind, mountPath is not null && entry is not null ? entry with { MountPath = mountPath } : null));
        }

        CheckCacheSources(entries, reader);
        return [.. entries.Where(e => e.Spec is not null).Select(e => e.Spec!)];
    }

    /// <summary><c>properties {resource_type, resource_use}</c>: EAS tags for the SDK; accepted and ignored.</summary>
    private static void ReadProperties(JsonObject item, string path, SpecReader reader)
    {
        if (reader.Object(item, path, "properties") is not { } properties)
        {
            return;
        }

        var at = SpecPath.Child(path, "properties");
        _ = reader.String(properties, at, "resource_type");
        _ = reader.String(properties, at, "resource_use");
        reader.OtherKeys(properties, at, "resource_type", "resource_use");
    }

    private static string? ReadMountPath(JsonObject item, string path, SpecReader reader)
    {
        if (!reader.Require(item, path, "mount_path", "add \"mount_path\": \"/mnt/data\" (where the instance sees the storage)"))
        {
            return null;
        }

        var mountPath = reader.String(item, path, "mount_path");
        if (mountPath is null)
        {
            return null;
        }

        var at = SpecPath.Child(path, "mount_path");
        var quoted = SpecReader.Quote(mountPath);
        if (!PosixPath.IsAbsolute(mountPath) || mountPath.Contains('\0', StringComparison.Ordinal))
        {
            reader.Error(at, $"{quoted} is not an absolute path", $"start it with /, e.g. \"/{mountPath.TrimStart('.', '/').Replace("\0", string.Empty, StringComparison.Ordinal)}\"");
            return null;
        }

        if (PosixPath.HasParentSegment(mountPath))
        {
            reader.Error(at, $"{quoted} has a .. segment; mount paths must not climb out of a folder", "write the path without .., e.g. /mnt/data");
            return null;
        }

        var clean = PosixPath.Clean(mountPath);
        if (clean == "/")
        {
            reader.Error(at, "cannot be / (the instance's root)", "mount under a folder such as /mnt/data");
            return null;
        }

        if (_systemFolders.Any(f => PosixPath.IsUnder(clean, f)) && !PosixPath.IsUnder(clean, "/dev/shm"))
        {
            reader.Error(at, $"{quoted} is inside /proc, /sys or /dev, which belong to the kernel (only /dev/shm may be mounted there)", "mount under a folder such as /mnt/data");
            return null;
        }

        return clean;
    }

    /// <summary>The entry's one storage kind; the returned spec's mount path is filled in by the caller.</summary>
    private static StorageSpec? ReadStorageSource(JsonObject item, string path, SpecReader reader, SpecParseOptions options, out string? kind)
    {
        kind = null;
        var kinds = item.Select(p => p.Key).Where(k => k is not "mount_path" and not "properties").ToList();
        reader.OtherKeys(item, path, [.. kinds, "mount_path", "properties"]);

        var supported = string.Join(", ", StorageKinds.All);
        if (kinds.Count == 0)
        {
            reader.Error(path, "has no storage kind", $"add one of {supported}, e.g. \"host\": {{\"path\": \"/srv/models\", \"readOnly\": true}}");
            return null;
        }

        if (kinds.Count > 1)
        {
            reader.Error(path, $"has {kinds.Count} storage kinds ({string.Join(", ", kinds)}); an entry mounts exactly one", "split it into one storage entry per kind");
            return null;
        }

        kind = kinds[0];
        var kindPath = SpecPath.Child(path, kind);
        if (!StorageKinds.All.Contains(kind, StringComparer.Ordinal))
        {
            if (SpecKeys.UnsupportedStorageKinds.Contains(kind, StringComparer.Ordinal))
            {
                reader.Error(kindPath, $"storage kind \"{kind}\" is not supported yet; supported kinds: {supported}",
                    "copy the data to the hosts and mount it with \"host\": {\"path\": \"/srv/data\"}, or serve it from an S3-compatible store (\"oss\") or an NFS export (\"nfs\")");
            }
            else
            {
                reader.Error(kindPath, $"unknown storage kind \"{kind}\"; supported kinds: {supported}", "check the spelling, or use one of the supported kinds");
            }

            return null;
        }

        if (reader.Object(item, path, kind) is not { } source)
        {
            return null;
        }

        return kind switch
        {
            StorageKinds.Host => ReadHost(source, kindPath, reader, options),
            StorageKinds.EmptyDir => ReadEmptyDir(source, kindPath, reader),
            StorageKinds.Oss => ReadOss(source, kindPath, reader),
            StorageKinds.Nfs => ReadNfs(source, kindPath, reader),
            StorageKinds.Git => ReadGit(source, kindPath, reader),
            _ => ReadCache(source, kindPath, reader),
        };
    }

    private static StorageSpec? ReadHost(JsonObject host, string path, SpecReader reader, SpecParseOptions options)
    {
        var readOnly = reader.Bool(host, path, "readOnly") ?? false;
        reader.OtherKeys(host, path, "path", "readOnly");
        if (!reader.Require(host, path, "path", "add \"path\": \"/srv/models\" (a folder on every host that may run the service)")
            || reader.String(host, path, "path") is not { } hostPath)
        {
            return null;
        }

        var at = SpecPath.Child(path, "path");
        if (hostPath.Length == 0 || hostPath.Contains('\0', StringComparison.Ordinal))
        {
            reader.Error(at, "must be a folder path", "write e.g. \"/srv/models\"");
            return null;
        }

        if (!PosixPath.IsAbsolute(hostPath))
        {
            if (options.BaseDirectory is null)
            {
                reader.Error(at, $"{SpecReader.Quote(hostPath)} is relative and there is no spec file folder to resolve it against",
                    "write an absolute host path such as /srv/models, or deploy from the spec file so that relative paths resolve against its folder");
                return null;
            }

            if (!PosixPath.IsAbsolute(options.BaseDirectory))
            {
                reader.Error(at, $"{SpecReader.Quote(hostPath)} is relative and the base folder {SpecReader.Quote(options.BaseDirectory)} is not absolute",
                    "write an absolute host path such as /srv/models");
                return null;
            }
        }

        var resolved = PosixPath.Resolve(options.BaseDirectory ?? "/", hostPath);
        return new StorageSpec { MountPath = string.Empty, Host = new HostStorage(resolved, readOnly) };
    }

    private static StorageSpec? ReadEmptyDir(JsonObject emptyDir, string path, SpecReader reader)
    {
        var medium = reader.String(emptyDir, path, "medium") ?? EmptyDirStorage.DiskMedium;
        if (string.Equals(medium, EmptyDirStorage.MemoryMedium, StringComparison.OrdinalIgnoreCase))
        {
            medium = EmptyDirStorage.MemoryMedium;
        }
        else if (medium.Length != 0)
        {
            reader.Error(SpecPath.Child(path, "medium"), $"{SpecReader.Quote(medium)} is not a medium; use \"\" (node disk) or \"memory\" (tmpfs)", "write \"medium\": \"memory\", or remove it for disk");
        }

        var sizeLimit = emptyDir.TryGetPropertyValue("size_limit", out var node) ? SizeLimitMib(node, SpecPath.Child(path, "size_limit"), reader) : 0;
        reader.OtherKeys(emptyDir, path, "medium", "size_limit");
        return sizeLimit is { } mib ? new StorageSpec { MountPath = string.Empty, EmptyDir = new EmptyDirStorage(medium, mib) } : null;
    }

    /// <summary>
    /// <c>size_limit</c> in MiB: a number is GiB (EAS: <c>"size_limit": 2</c>); a string carries a
    /// unit, Mi, Gi or Ti (<c>"512Mi"</c>, <c>"1.5Gi"</c>). Fractions round up to a whole MiB.
    /// </summary>
    private static long? SizeLimitMib(JsonNode? node, string path, SpecReader reader) => SizeMib(
        node,
        path,
        reader,
        new SizeRules("size_limit", "GiB", "Gi", SizePattern(), unit => unit switch { "Mi" => 1, "Gi" => 1024, _ => 1024 * 1024 },
            "write a number of GiB such as 2, or a string such as \"512Mi\" or \"2Gi\""));

    /// <summary>How one size field reads: its name, the unit of a bare number, the unit strings and the fix.</summary>
    private sealed record SizeRules(string Field, string NumberUnit, string SuggestedUnit, Regex Pattern, Func<string, double> UnitMib, string Fix);

    /// <summary>A size in MiB: a bare number in <see cref="SizeRules.NumberUnit"/>, or a string the rules' pattern reads; up to 64 TiB.</summary>
    private static long? SizeMib(JsonNode? node, string path, SpecReader reader, SizeRules rules)
    {
        double mib;
        string shown;
        switch (SpecReader.Kind(node))
        {
            case JsonValueKind.Number:
                shown = node!.ToJsonString();
                mib = node.GetValue<double>() * 1024;
                break;
            case JsonValueKind.String:
                var text = node!.GetValue<string>().Trim();
                shown = SpecReader.Quote(text);
                if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
                {
                    reader.Error(path, $"must be a number of {rules.NumberUnit} or a size with a unit, got the string {shown}",
                        $"write {text} without quotes for {text} {rules.NumberUnit}, or add a unit: \"{text}{rules.SuggestedUnit}\"");
                    return null;
                }

                var match = rules.Pattern.Match(text);
                if (!match.Success)
                {
                    reader.Error(path, $"{shown} is not a size", rules.Fix);
                    return null;
                }

                mib = double.Parse(match.Groups["amount"].Value, CultureInfo.InvariantCulture) * rules.UnitMib(match.Groups["unit"].Value);
                break;
            default:
                reader.Error(path, $"must be a number of {rules.NumberUnit} or a size string, got {SpecReader.Describe(node)}", rules.Fix);
                return null;
        }

        if (!(mib > 0) || mib > MaxSizeLimitMib)
        {
            reader.Error(path, $"{shown} is out of range; {rules.Field} must be more than 0 and at most 65536 {rules.NumberUnit}", rules.Fix);
            return null;
        }

        return (long)Math.Ceiling(mib);
    }

    [GeneratedRegex(@"^(?<amount>[0-9]+(\.[0-9]+)?)(?<unit>Mi|Gi|Ti)\z")]
    private static partial Regex SizePattern();
}
