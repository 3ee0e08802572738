namespace Eas.Node.Spec.Parsing;

/// <summary>
/// EAS keys that Eas.Node recognizes but does not read, by schema path (array indexes blanked).
/// Keys read by the parser are listed where they are read; anything in neither place is unknown.
/// </summary>
internal static class SpecKeys
{
    /// <summary>Keys that only mean something on Alibaba Cloud: accepted, warned about, ignored.</summary>
    private static readonly HashSet<string> _cloudOnly = new(StringComparer.Ordinal)
    {
        "cloud",
        "confidential",
        "networking.gateway",
        "networking.path",
        "networking.traffic_state",
        "networking.enable_https",
        "networking.enable_http2",
        "networking.disable_internet_endpoint",
        "networking.dns",
        "networking.nlb",
        "networking.nacos",
        "networking.use_host_network",
        "networking.restriction_rules",
        "networking.vpc_id",
        "networking.vswitch_id",
        "networking.security_group_id",
        "metadata.workspace_id",
        "metadata.resource",
        "metadata.rdma",
        "metadata.cuda",
        "metadata.quota_id",
        "metadata.gateway",
        "metadata.role",
        "runtime.cuda",
    };

    /// <summary>EAS keys with a meaning here that Eas.Node does not implement yet: warned about, ignored.</summary>
    private static readonly HashSet<string> _notSupportedYet = new(StringComparer.Ordinal)
    {
        "dockerAuth",
        "autoscaler",
        "cronscaler",
        "labels",
        "unit",
        "aimaster",
        "options",
        "model_path",
        "model_entry",
        "model_config",
        "oss_endpoint",
        "processor",
        "processor_path",
        "processor_entry",
        "processor_mainclass",
        "processor_type",
        "warm_up_data_path",
        "metadata.npu",
        "metadata.qos",
        "metadata.resource_burstable",
        "metadata.resource_rebalancing",
        "metadata.scheduling",
        "metadata.node_selector",
        "metadata.enable_webservice",
        "metadata.workload_type",
        "metadata.disk",
        "metadata.elastic_job",
        "metadata.rpc.batching",
        "metadata.rpc.io_threads",
        "metadata.rpc.max_batch_size",
        "metadata.rpc.max_batch_timeout",
        "metadata.rpc.worker_threads",
        "metadata.rpc.proxy_path",
        "metadata.rpc.health_check_path",
        "metadata.rpc.health_check_port",
        "metadata.rpc.retries",
        "metadata.rpc.enable_service_hang_detect",
        "metadata.rpc.decompressor",
        "metadata.rpc.mirror",
        "metadata.eas.enable_graceful_shutdown",
        "features[\"eas.aliyun.com/extra-ephemeral-storage\"]",
    };

    /// <summary>Storage kinds EAS has and Eas.Node cannot mount yet: an error, since the instance would miss its data.</summary>
    public static readonly IReadOnlyList<string> UnsupportedStorageKinds =
        ["pvc", "image", "dataset", "model", "code", "cpfs", "bmcpfs"];

    public static bool IsCloudOnly(string path) => _cloudOnly.Contains(SpecPath.Schema(path));

    public static bool IsNotSupportedYet(string path) => _notSupportedYet.Contains(SpecPath.Schema(path));
}
