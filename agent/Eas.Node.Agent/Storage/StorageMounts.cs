using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Runtime;
using Eas.Node.Contracts.V1;

namespace Eas.Node.Agent.Storage;

/// <summary>Turns an instance's storage (host paths, empty_dir) into OCI mounts, and maps paths inside the instance to the host.</summary>
public static class StorageMounts
{
    /// <summary>The OCI mounts for the spec's storage; disk empty_dirs live under <paramref name="instanceDir"/>/empty.</summary>
    /// <exception cref="InstanceFailedException">A host path is missing or a mount is malformed.</exception>
    public static IReadOnlyList<OciMount> Resolve(InstanceSpec spec, string instanceDir)
    {
        var mounts = new List<OciMount>();
        for (var i = 0; i < spec.Mounts.Count; i++)
        {
            var mount = spec.Mounts[i];
            var destination = Destination(mount, i);
            switch (mount.SourceCase)
            {
                case Mount.SourceOneofCase.Host:
                    var source = mount.Host.Path;
                    if (!Path.IsPathFullyQualified(source) || !Path.Exists(source))
                    {
                        throw new InstanceFailedException($"storage[{i}] ({destination}): host path '{source}' does not exist on node; create it or fix storage[{i}].host.path");
                    }

                    mounts.Add(OciMount.Bind(source, destination, mount.ReadOnly));
                    break;
                case Mount.SourceOneofCase.EmptyDir when mount.EmptyDir.Medium == "memory":
                    var size = mount.EmptyDir.SizeLimitMib > 0 ? mount.EmptyDir.SizeLimitMib : spec.MemoryMib / 2;
                    mounts.Add(OciMount.Tmpfs(destination, size) with { Source = "empty_dir" });
                    break;
                case Mount.SourceOneofCase.EmptyDir:
                    mounts.Add(OciMount.Bind(EmptyDirPath(instanceDir, i), destination, mount.ReadOnly));
                    break;
                case Mount.SourceOneofCase.None:
                    throw new InstanceFailedException($"storage[{i}] ({destination}): the entry has no source; give it host, empty_dir, oss, nfs, git or cache");
                default:
                    // oss, nfs, git and cache: their drivers provide a host path (StorageHook).
                    break;
            }
        }

        return mounts;
    }

    /// <summary>Creates the directories behind disk empty_dirs.</summary>
    public static void CreateEmptyDirs(InstanceSpec spec, string instanceDir)
    {
        for (var i = 0; i < spec.Mounts.Count; i++)
        {
            if (spec.Mounts[i].SourceCase == Mount.SourceOneofCase.EmptyDir && spec.Mounts[i].EmptyDir.Medium != "memory")
            {
                var dir = EmptyDirPath(instanceDir, i);
                Directory.CreateDirectory(dir);
                File.SetUnixFileMode(dir, (UnixFileMode)Convert.ToInt32("1777", 8));
            }
        }
    }

    /// <summary>True for the kinds resolved here (host, empty_dir); the others have a driver.</summary>
    public static bool IsBuiltIn(Mount mount) => mount.SourceCase is Mount.SourceOneofCase.Host or Mount.SourceOneofCase.EmptyDir;

    /// <summary>"/" + the path without surrounding slashes or blanks: how mount paths are compared.</summary>
    public static string Normalize(string path) => "/" + path.Trim().Trim('/');

    /// <summary>
    /// The host path behind <paramref name="containerPath"/> through the spec's host mounts: the one with the
    /// longest matching mount path, plus the rest of the path. Null when no host mount covers it.
    /// </summary>
    public static string? MapToHost(InstanceSpec spec, string containerPath) => MapToHost(
        spec.Mounts.Where(m => m.SourceCase == Mount.SourceOneofCase.Host).ToDictionary(m => Normalize(m.MountPath), m => m.Host.Path, StringComparer.Ordinal),
        containerPath);

    /// <summary>
    /// The host path behind <paramref name="containerPath"/> given host paths by (normalized) mount path: the
    /// longest mount path that covers it, plus the rest of the path. Null when none covers it.
    /// </summary>
    public static string? MapToHost(IReadOnlyDictionary<string, string> hostPathByMountPath, string containerPath)
    {
        var normalized = Normalize(containerPath);
        string? best = null;
        foreach (var prefix in hostPathByMountPath.Keys)
        {
            var covers = normalized == prefix || normalized.StartsWith(prefix == "/" ? "/" : prefix + "/", StringComparison.Ordinal);
            if (covers && (best is null || prefix.Length > best.Length))
            {
                best = prefix;
            }
        }

        if (best is null)
        {
            return null;
        }

        var rest = normalized[Math.Min(normalized.Length, best.Length)..].TrimStart('/');
        return rest.Length == 0 ? hostPathByMountPath[best] : Path.Combine(hostPathByMountPath[best], rest);
    }

    private static string Destination(Mount mount, int index)
    {
        var path = mount.MountPath.Trim();
        if (!path.StartsWith('/'))
        {
            throw new InstanceFailedException($"storage[{index}].mount_path '{path}' is not absolute; write it like /mnt/data");
        }

        return path.Length > 1 ? path.TrimEnd('/') : path;
    }

    private static string EmptyDirPath(string instanceDir, int index) => Path.Combine(instanceDir, "empty", index.ToString(System.Globalization.CultureInfo.InvariantCulture));
}
