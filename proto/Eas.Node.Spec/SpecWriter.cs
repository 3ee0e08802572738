using System.Text;
using System.Text.Json;
using Eas.Node.Spec.Parsing;

namespace Eas.Node.Spec;

/// <summary>
/// Writes a <see cref="ServiceSpec"/> back as canonical EAS JSON: nested keys only, every metadata
/// value explicit (defaults included; the GPU keys only when set, <c>gpu</c> only when 1 or more; <c>type</c>, <c>group</c>,
/// <c>enable_grpc</c> and <c>routing</c> only when not the default), indented. An LLMGatewayService has no <c>containers</c>.
/// The GPU driver version is written bare (<c>"550.127.08"</c>, no <c>"tesla="</c>). <see cref="SpecParser.Parse"/> reads the output back
/// into an equal spec. A git password is written (it is part of the spec); write <see cref="ServiceSpec.WithoutSecrets"/> for output
/// that may be shown or logged.
/// </summary>
public static class SpecWriter
{
    /// <summary>The spec as indented EAS JSON.</summary>
    /// <param name="spec">The spec to write.</param>
    /// <param name="includeToken">False leaves <c>token</c> out, for output that may be shown or logged.</param>
    public static string ToJson(ServiceSpec spec, bool includeToken = true)
    {
        ArgumentNullException.ThrowIfNull(spec);
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, SpecJson.IndentedWriter))
        {
            writer.WriteStartObject();
            WriteMetadata(writer, spec);
            if (spec.Container is { } container)
            {
                writer.WriteStartArray("containers");
                WriteContainer(writer, container);
                writer.WriteEndArray();
            }
            if (spec.Storage.Count > 0)
            {
                writer.WriteStartArray("storage");
                foreach (var storage in spec.Storage)
                {
                    WriteStorage(writer, storage);
                }

                writer.WriteEndArray();
            }

            if (spec.GpuDriverVersion is not null)
            {
                writer.WriteStartObject("features");
                writer.WriteString("eas.aliyun.com/gpu-driver-version", spec.GpuDriverVersion);
                writer.WriteEndObject();
            }

            if (spec.EnableCrashBlock)
            {
                writer.WriteStartObject("runtime");
                writer.WriteBoolean("enable_crash_block", true);
                writer.WriteEndObject();
            }

            WriteNetworking(writer, spec);
            if (spec.Sinker is { } sinker)
            {
                writer.WriteStartObject("sinker");
                writer.WriteString("type", sinker.Type);
                if (sinker.Endpoint is not null || sinker.MaxBodyBytes > 0)
                {
                    writer.WriteStartObject("config");
                    WriteIfSet(writer, "endpoint", sinker.Endpoint);
                    if (sinker.MaxBodyBytes > 0)
                    {
                        writer.WriteNumber("max_body_bytes", sinker.MaxBodyBytes);
                    }

                    writer.WriteEndObject();
                }

                writer.WriteEndObject();
            }

            if (includeToken && spec.Token is not null)
            {
                writer.WriteString("token", spec.Token);
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteMetadata(Utf8JsonWriter writer, ServiceSpec spec)
    {
        writer.WriteStartObject("metadata");
        writer.WriteString("name", spec.Name);
        if (spec.Type != ServiceTypes.Standard)
        {
            writer.WriteString("type", spec.Type);
        }

        WriteIfSet(writer, "group", spec.Group);
        writer.WriteNumber("instance", spec.Instance);
        writer.WriteNumber("cpu", spec.Cpu);
        writer.WriteNumber("memory", spec.MemoryMb);
        if (spec.Gpu > 0)
        {
            writer.WriteNumber("gpu", spec.Gpu);
        }

        if (spec.GpuMemoryGb is { } gpuMemory)
        {
            writer.WriteNumber("gpu_memory", gpuMemory);
        }

        if (spec.GpuCorePercentage is { } gpuCore)
        {
            writer.WriteNumber("gpu_core_percentage", gpuCore);
        }

        if (spec.GpuModel is not null)
        {
            writer.WriteString("gpu_model", spec.GpuModel);
        }

        if (spec.ShmSizeGb is { } shm)
        {
            writer.WriteNumber("shm_size", shm);
        }

        writer.WriteStartObject("rpc");
        writer.WriteNumber("keepalive", spec.KeepaliveMs);
        writer.WriteBoolean("enable_sigterm", spec.EnableSigterm);
        writer.WriteNumber("rate_limit", spec.RateLimit);
        writer.WriteNumber("max_queue_size", spec.MaxQueueSize);
        writer.WriteEndObject();
        if (spec.EnableGrpc)
        {
            writer.WriteBoolean("enable_grpc", true);
        }

        if (spec.Routing != ServiceRouting.LeastRequests)
        {
            writer.WriteString("routing", ServiceRoutingNames.Name(spec.Routing));
        }

        writer.WriteStartObject("eas");
        writer.WriteNumber("termination_grace_period", spec.TerminationGracePeriodSeconds);
        writer.WriteEndObject();
        WriteRollingStrategy(writer, spec.RollingStrategy);
        writer.WriteEndObject();
    }

    /// <summary><c>networking.gateway_policy</c>, only when a limit was given.</summary>
    private static void WriteNetworking(Utf8JsonWriter writer, ServiceSpec spec)
    {
        if (spec.GatewayRateLimit is null && spec.GatewayConcurrencyLimit is null)
        {
            return;
        }

        writer.WriteStartObject("networking");
        writer.WriteStartObject("gateway_policy");
        foreach (var (key, limit) in new[] { ("rate_limit", spec.GatewayRateLimit), ("concurrency_limit", spec.GatewayConcurrencyLimit) })
        {
            if (limit is not null)
            {
                writer.WriteStartObject(key);
                writer.WriteBoolean("enable", limit.Enable);
                writer.WriteNumber("limit", limit.Limit);
                writer.WriteEndObject();
            }
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void WriteRollingStrategy(Utf8JsonWriter writer, RollingStrategy strategy)
    {
        if (strategy == RollingStrategy.Default)
        {
            return;
        }

        writer.WriteStartObject("rolling_strategy");
        foreach (var (key, amount) in new[] { ("max_surge", strategy.MaxSurge), ("max_unavailable", strategy.MaxUnavailable) })
        {
            if (amount is { IsPercent: true } percent)
            {
                writer.WriteString(key, percent.ToString());
            }
            else if (amount is { } count)
            {
                writer.WriteNumber(key, count.Value);
            }
        }

        writer.WriteEndObject();
    }

    private static void WriteContainer(Utf8JsonWriter writer, ContainerSpec container)
    {
        writer.WriteStartObject();
        writer.WriteString("image", container.Image);
        if (container.Script is not null)
        {
            writer.WriteString("script", container.Script);
        }

        if (container.Command is not null)
        {
            writer.WriteStartArray("command");
            foreach (var argument in container.Command)
            {
                writer.WriteStringValue(argument);
            }

            writer.WriteEndArray();
        }

        writer.WriteNumber("port", container.Port);
        if (container.Env.Count > 0)
        {
            writer.WriteStartArray("env");
            foreach (var variable in container.Env)
            {
                writer.WriteStartObject();
                writer.WriteString("name", variable.Name);
                writer.WriteString("value", variable.Value);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        if (container.PythonRequirements.Count > 0 || container.PythonRequirementsPath is not null)
        {
            writer.WriteStartObject("prepare");
            if (container.PythonRequirements.Count > 0)
            {
                writer.WriteStartArray("pythonRequirements");
                foreach (var requirement in container.PythonRequirements)
                {
                    writer.WriteStringValue(requirement);
                }

                writer.WriteEndArray();
            }

            if (container.PythonRequirementsPath is not null)
            {
                writer.WriteString("pythonRequirementsPath", container.PythonRequirementsPath);
            }

            writer.WriteEndObject();
        }

        WriteProbe(writer, "startup_check", container.StartupCheck);
        WriteProbe(writer, "readiness_check", container.ReadinessCheck);
        WriteProbe(writer, "liveness_check", container.LivenessCheck);
        writer.WriteEndObject();
    }

    /// <summary>A probe with every number written (defaults included); a port only when one was given.</summary>
    private static void WriteProbe(Utf8JsonWriter writer, string key, ProbeSpec? probe)
    {
        if (probe is null)
        {
            return;
        }

        writer.WriteStartObject(key);
        if (probe.HttpGet is { } http)
        {
            writer.WriteStartObject(ProbeKinds.HttpGet);
            writer.WriteString("path", http.Path);
            if (http.Port is { } port)
            {
                writer.WriteNumber("port", port);
            }

            writer.WriteString("scheme", http.Scheme);
            writer.WriteEndObject();
        }

        if (probe.TcpSocket is { } tcp)
        {
            writer.WriteStartObject(ProbeKinds.TcpSocket);
            if (tcp.Port is { } port)
            {
                writer.WriteNumber("port", port);
            }

            writer.WriteEndObject();
        }

        if (probe.Exec is { } exec)
        {
            writer.WriteStartObject(ProbeKinds.Exec);
            writer.WriteStartArray("command");
            foreach (var word in exec.Command)
            {
                writer.WriteStringValue(word);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteNumber("initial_delay_seconds", probe.InitialDelaySeconds);
        writer.WriteNumber("period_seconds", probe.PeriodSeconds);
        writer.WriteNumber("timeout_seconds", probe.TimeoutSeconds);
        writer.WriteNumber("failure_threshold", probe.FailureThreshold);
        writer.WriteNumber("success_threshold", probe.SuccessThreshold);
        writer.WriteEndObject();
    }

    private static void WriteStorage(Utf8JsonWriter writer, StorageSpec storage)
    {
        writer.WriteStartObject();
        writer.WriteString("mount_path", storage.MountPath);
        if (storage.Host is { } host)
        {
            writer.WriteStartObject("host");
            writer.WriteString("path", host.Path);
            writer.WriteBoolean("readOnly", host.ReadOnly);
            writer.WriteEndObject();
        }

        if (storage.EmptyDir is { } emptyDir)
        {
            writer.WriteStartObject("empty_dir");
            if (emptyDir.Medium.Length > 0)
            {
                writer.WriteString("medium", emptyDir.Medium);
            }

            // Whole GiB as the EAS number; anything finer as a string with its unit.
            if (emptyDir.SizeLimitMib > 0 && emptyDir.SizeLimitMib % 1024 == 0)
            {
                writer.WriteNumber("size_limit", emptyDir.SizeLimitMib / 1024);
            }
            else if (emptyDir.SizeLimitMib > 0)
            {
                writer.WriteString("size_limit", $"{emptyDir.SizeLimitMib}Mi");
            }

            writer.WriteEndObject();
        }

        if (storage.Oss is { } oss)
        {
            writer.WriteStartObject(StorageKinds.Oss);
            writer.WriteString("path", oss.Path);
            writer.WriteBoolean("readOnly", oss.ReadOnly);
            WriteIfSet(writer, "endpoint", oss.Endpoint);
            WriteIfSet(writer, "secret", oss.Secret);
            writer.WriteEndObject();
        }

        if (storage.Nfs is { } nfs)
        {
            writer.WriteStartObject(StorageKinds.Nfs);
            writer.WriteString("server", nfs.Server);
            writer.WriteString("path", nfs.Path);
            writer.WriteBoolean("readOnly", nfs.ReadOnly);
            writer.WriteEndObject();
        }

        if (storage.Git is { } git)
        {
            // Always read-only, so readOnly is not written. The password is part of the stored spec.
            writer.WriteStartObject(StorageKinds.Git);
            writer.WriteString("repo", git.Repo);
            writer.WriteString("branch", git.Branch);
            WriteIfSet(writer, "commit", git.Commit);
            WriteIfSet(writer, "username", git.Username);
            WriteIfSet(writer, "password", git.Password);
            writer.WriteEndObject();
        }

        if (storage.Cache is { } cache)
        {
            writer.WriteStartObject(StorageKinds.Cache);
            writer.WriteString("path", cache.SourcePath);

            // "200G" as on EAS for whole GiB; anything finer in MiB.
            if (cache.CapacityMib > 0)
            {
                writer.WriteString("capacity", cache.CapacityMib % 1024 == 0 ? $"{cache.CapacityMib / 1024}G" : $"{cache.CapacityMib}Mi");
            }

            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    }

    private static void WriteIfSet(Utf8JsonWriter writer, string key, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(key, value);
        }
    }
}
