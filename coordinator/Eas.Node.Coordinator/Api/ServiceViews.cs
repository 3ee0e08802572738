using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Gpus;
using Eas.Node.Coordinator.Store;
using Google.Protobuf.WellKnownTypes;

namespace Eas.Node.Coordinator.Api;

/// <summary>Maps stored records to the admin API's messages and computes a service's status.</summary>
public static class ServiceViews
{
    /// <summary>
    /// The status a person reads: Deleting, Stopped/Stopping, Updating (old-version instances remain),
    /// Running (every desired instance Ready), Failed (an instance failed and too few are ready), else Pending.
    /// </summary>
    public static string Status(ServiceRecord service, IReadOnlyList<InstanceRecord> instances)
    {
        var live = instances.Where(i => !i.Removing).ToList();
        if (service.Deleting)
        {
            return "Deleting";
        }

        if (service.Stopped || service.Replicas == 0)
        {
            // An LLMGatewayService never has instances: it is Running as its group's router until stopped.
            return instances.Count > 0 ? "Stopping" : service.IsLlmGateway && !service.Stopped ? "Running" : "Stopped";
        }

        var readyCurrent = live.Count(i => i.ServiceVersion == service.Version && i.State == InstanceState.Ready);
        if (live.Any(i => i.ServiceVersion != service.Version))
        {
            return "Updating";
        }

        if (readyCurrent >= service.Replicas)
        {
            return "Running";
        }

        return live.Any(i => i.State == InstanceState.Failed) ? "Failed" : "Pending";
    }

    /// <summary>Why the service is not Running: the scheduler's reason, or a failed instance's.</summary>
    public static string Message(ServiceRecord service, IReadOnlyList<InstanceRecord> instances)
    {
        if (!string.IsNullOrEmpty(service.Message))
        {
            return service.Message;
        }

        if (service.RolloutPaused.Length > 0)
        {
            return $"rollout to version {service.Version} paused: {service.RolloutPaused}";
        }

        var failed = instances.FirstOrDefault(i => !i.Removing && i.State == InstanceState.Failed);
        return failed is null ? "" : $"instance {failed.Id} failed: {failed.Reason}";
    }

    /// <summary>Where the latest rolling update stands: new instances, how many are Ready, what still runs older versions.</summary>
    public static Rollout Rollout(ServiceRecord service, IReadOnlyList<InstanceRecord> instances)
    {
        var live = instances.Where(i => !i.Removing).ToList();
        var updated = live.Where(i => i.ServiceVersion == service.Version).ToList();
        var rollout = new Rollout
        {
            Active = service.RolloutActive,
            Version = service.Version,
            Updated = updated.Count,
            UpdatedReady = updated.Count(i => i.State == InstanceState.Ready),
            Outgoing = live.Count - updated.Count,
            Desired = service.Stopped ? 0 : service.Replicas,
            Paused = service.RolloutPaused,
            PreviousVersion = service.PreviousVersion,
        };
        foreach (var group in live.Where(i => i.ServiceVersion != service.Version).GroupBy(i => i.ServiceVersion))
        {
            rollout.OutgoingVersions[group.Key] = group.Count();
        }

        return rollout;
    }

    /// <summary>The ServiceInfo message.</summary>
    public static ServiceInfo Info(
        ServiceRecord service,
        ServiceVersionRecord? version,
        string specJson,
        IReadOnlyList<InstanceRecord> instances,
        string publicEndpoint,
        Func<InstanceRecord, InstanceGpuUsage?>? gpuUsage = null)
    {
        var info = new ServiceInfo
        {
            Name = service.Name,
            Status = Status(service, instances),
            Endpoint = $"{publicEndpoint}/api/predict/{service.Name}",
            Token = service.Token,
            Version = service.Version,
            Replicas = new Replicas
            {
                Desired = service.Replicas,
                Ready = instances.Count(i => !i.Removing && i.State == InstanceState.Ready),
                Total = instances.Count,
            },
            SpecJson = specJson,
            CreatedAt = Timestamp.FromDateTimeOffset(service.CreatedAt),
            UpdatedAt = Timestamp.FromDateTimeOffset(service.UpdatedAt),
            Message = Message(service, instances),
            Rollout = Rollout(service, instances),
            Group = service.Group,
            Weight = service.Group.Length > 0 ? service.GroupWeight : 0,
            TrafficState = service.Group.Length > 0 ? TrafficStateName(service.TrafficState) : "",
            Type = service.Type,
        };
        info.Instances.AddRange(instances.Select(i => Instance(i, gpuUsage?.Invoke(i))));
        if (version is not null)
        {
            info.Warnings.AddRange(version.Warnings);
        }

        return info;
    }

    /// <summary>"grouping" or "standalone", as EAS and easctl spell it.</summary>
    public static string TrafficStateName(MemberTrafficState state) => state == MemberTrafficState.Standalone ? "standalone" : "grouping";

    /// <summary>"auto" or "customized", as EAS and easctl spell it.</summary>
    public static string TrafficModeName(GroupTrafficMode mode) => mode == GroupTrafficMode.Customized ? "customized" : "auto";

    /// <summary>The InstanceInfo message, with what the instance uses of its GPUs when that is known.</summary>
    public static InstanceInfo Instance(InstanceRecord instance) => Instance(instance, null);

    /// <inheritdoc cref="Instance(InstanceRecord)"/>
    public static InstanceInfo Instance(InstanceRecord instance, InstanceGpuUsage? gpuUsage) => new()
    {
        Id = instance.Id,
        Service = instance.Service,
        ServiceVersion = instance.ServiceVersion,
        Node = instance.Node ?? "",
        State = instance.Removing && instance.State is not (InstanceState.Stopped or InstanceState.Failed) ? InstanceState.Terminating : instance.State,
        Reason = instance.Reason,
        Ip = instance.Ip,
        Port = instance.Port,
        Restarts = instance.Restarts,
        CreatedAt = Timestamp.FromDateTimeOffset(instance.CreatedAt),
        ChangedAt = Timestamp.FromDateTimeOffset(instance.ChangedAt),
        Gpu = instance.Gpu is null ? null : GpuMapping.ToMessage(instance.Gpu),
        GpuUsage = instance.Gpu is null ? null : gpuUsage,
    };

    /// <summary>The NodeInfo message's GPU part: each GPU with its latest usage and the instances placed on it.</summary>
    public static void AddGpus(NodeInfo info, NodeRecord node, IEnumerable<InstanceRecord> instances, GpuReport? latest)
    {
        info.GpuDriverVersion = node.GpuDriverVersion;
        info.CudaVersion = node.CudaVersion;
        info.GpuUnavailableReason = node.GpuUnavailableReason;
        var onNode = instances.Where(i => i.Gpu is not null).ToList();
        foreach (var gpu in node.Gpus.OrderBy(g => g.Index))
        {
            var usage = latest?.Inventory?.Gpus.FirstOrDefault(g => g.Uuid == gpu.Uuid)?.Usage;
            var view = new NodeGpu { Gpu = GpuMapping.ToMessage(gpu, usage) };
            foreach (var instance in onNode.Where(i => i.Gpu!.GpuUuids.Contains(gpu.Uuid)).OrderBy(i => i.Id, StringComparer.Ordinal))
            {
                view.Allocations.Add(new GpuAllocationView { InstanceId = instance.Id, Service = instance.Service, Allocation = GpuMapping.ToMessage(instance.Gpu!) });
            }

            info.Gpus.Add(view);
        }
    }

    /// <summary>The Event message.</summary>
    public static Event Event(EventRecord record) => new()
    {
        Seq = record.Seq,
        Time = Timestamp.FromDateTimeOffset(record.Time),
        Service = record.Service,
        InstanceId = record.InstanceId,
        Type = record.Type,
        Message = record.Message,
        Node = record.Node,
    };
}
