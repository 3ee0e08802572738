namespace Eas.Node.Agent.Options;

/// <summary>The "Agent:Storage" section: the node side of oss, nfs, git and cache mounts (docs/storage.md).</summary>
public sealed class StorageOptions
{
    /// <summary>
    /// JSON credentials for object stores, readable by root only:
    /// <c>{"default": {"accessKeyId": "…", "secretAccessKey": "…"}, "team-a": {…}}</c>; a spec names one with <c>oss.secret</c>.
    /// </summary>
    public string SecretsFile { get; set; } = "/etc/eas/storage-secrets.json";

    /// <summary>The object-store endpoint for oss mounts that name none ("host:port" or an http(s) URL); "" requires one per mount.</summary>
    public string OssEndpoint { get; set; } = "";

    /// <summary>The s3fs-fuse binary.</summary>
    public string S3fs { get; set; } = "/usr/bin/s3fs";

    /// <summary>The git binary.</summary>
    public string Git { get; set; } = "/usr/bin/git";

    /// <summary>Where the node-local cache keeps its entries; "" for &lt;StateDir&gt;/cache.</summary>
    public string CacheDir { get; set; } = "";

    /// <summary>Cache capacity in MiB when a cache mount names none.</summary>
    public long CacheCapacityMib { get; set; } = 100 * 1024;

    /// <summary>Files read in parallel while a cache entry fills.</summary>
    public int CacheFillParallelism { get; set; } = 8;

    /// <summary>The keys of the section, in the order the error messages list them.</summary>
    internal static readonly string[] Keys =
    [
        nameof(SecretsFile), nameof(OssEndpoint), nameof(S3fs), nameof(Git), nameof(CacheDir), nameof(CacheCapacityMib), nameof(CacheFillParallelism),
    ];

    /// <summary>The integer keys (checked to be whole numbers before binding).</summary>
    internal static readonly string[] IntegerKeys = [nameof(CacheCapacityMib), nameof(CacheFillParallelism)];
}
