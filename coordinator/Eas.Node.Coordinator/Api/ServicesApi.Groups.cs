using System.Text.RegularExpressions;
using Eas.Node.Contracts.V1;
using Eas.Node.Coordinator.Endpoints;
using Eas.Node.Coordinator.Store;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Eas.Node.Coordinator.Api;

/// <summary>
/// Service groups and call records. A group is created in the commit that stores its first member and removed in the
/// commit that takes its last member out (delete, or a modify or rollback to another group); every membership change
/// rewrites the group record, so changes that race conflict on its revision and retry.
/// </summary>
public sealed partial class ServicesApi
{
    /// <summary>The call records <c>ListCallRecords</c> returns when the request gives no limit.</summary>
    public const int DefaultRecordLimit = 20;

    /// <summary>The most call records one <c>ListCallRecords</c> returns.</summary>
    public const int MaxRecordLimit = 10_000;

    /// <inheritdoc />
    public override async Task<ListGroupsResponse> ListGroups(ListGroupsRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var services = await store.ListServicesAsync(ct);
        var instances = (await store.ListInstancesAsync(null, ct)).ToLookup(i => i.Service, StringComparer.Ordinal);
        var response = new ListGroupsResponse();
        foreach (var group in await store.ListGroupsAsync(ct))
        {
            response.Groups.Add(await GroupInfoAsync(group, services, instances, ct));
        }

        return response;
    }

    /// <inheritdoc />
    public override async Task<GroupInfo> DescribeGroup(GroupRef request, ServerCallContext context)
    {
        RequireGroupName(request.Name);
        var ct = context.CancellationToken;
        return await GroupInfoAsync(await GetGroupAsync(request.Name, ct), ct);
    }

    /// <inheritdoc />
    public override async Task<GroupInfo> SetGroupTraffic(SetGroupTrafficRequest request, ServerCallContext context)
    {
        RequireGroupName(request.Name);
        var mode = request.Mode switch
        {
            "auto" => GroupTrafficMode.Auto,
            "customized" => GroupTrafficMode.Customized,
            _ => throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument,
                $"mode: '{request.Mode}' is not a traffic mode; give auto (split by each member's Ready instances) or customized (split by each member's weight)")),
        };
        var ct = context.CancellationToken;
        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            var group = await GetGroupAsync(request.Name, ct);
            if (group.TrafficMode == mode)
            {
                return await GroupInfoAsync(group, ct);
            }

            var now = time.GetUtcNow();
            var name = ServiceViews.TrafficModeName(mode);
            var transaction = new StoreTransaction().Put(group with { TrafficMode = mode, UpdatedAt = now });
            foreach (var member in Members(await store.ListServicesAsync(ct), group.Name))
            {
                transaction.Append(new EventRecord(0, now, member.Name, "", "GroupTraffic",
                    $"group {group.Name} traffic mode set to {name}{(mode == GroupTrafficMode.Customized ? $"; this member's weight is {member.GroupWeight}" : "")}", ""));
            }

            if ((await store.CommitAsync(transaction, ct)).Succeeded)
            {
                ApiLog.GroupChanged(logger, group.Name, $"traffic mode set to {name}");
                return await GroupInfoAsync(group.Name, ct);
            }
        }

        throw new RpcException(new Grpc.Core.Status(StatusCode.Aborted, $"group '{request.Name}' changed too often while this request was applied; retry"));
    }

    /// <inheritdoc />
    public override async Task<ReleaseServiceResponse> ReleaseService(ReleaseServiceRequest request, ServerCallContext context)
    {
        RequireName(request.Name);
        if (request.HasWeight && request.Weight is < 0 or > GroupRecord.MaxWeight)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument,
                $"weight: {request.Weight} is out of range; a weight is 0 to {GroupRecord.MaxWeight} (0 takes no group traffic in customized mode)"));
        }

        MemberTrafficState? state = request.TrafficState switch
        {
            "" => null,
            "grouping" => MemberTrafficState.Grouping,
            "standalone" => MemberTrafficState.Standalone,
            _ => throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument,
                $"traffic_state: '{request.TrafficState}' is not a traffic state; give grouping (takes group traffic) or standalone (only its own endpoint), or leave it empty")),
        };
        if (!request.HasWeight && state is null)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument,
                "release needs a weight, a traffic state, or both; e.g. weight 100, or traffic_state standalone"));
        }

        var ct = context.CancellationToken;
        for (var attempt = 0; attempt < CasAttempts; attempt++)
        {
            var service = await RequireChangeableAsync(request.Name, ct);
            if (service.Group.Length == 0)
            {
                throw new RpcException(new Grpc.Core.Status(StatusCode.FailedPrecondition,
                    $"service '{service.Name}' is in no group, so it has no group weight; put it in one with metadata.group (easctl modify {service.Name} -D metadata.group=NAME)"));
            }

            var weight = request.HasWeight ? request.Weight : service.GroupWeight;
            var newState = state ?? service.TrafficState;
            var message = $"Releasing service [{service.Name}] with weight [{weight}]"
                + (state is null ? "" : $" and traffic state [{ServiceViews.TrafficStateName(newState)}]");
            var group = await store.GetGroupAsync(service.Group, ct);
            if (group?.TrafficMode != GroupTrafficMode.Customized)
            {
                message += $"; group [{service.Group}] splits traffic by Ready instances (auto mode), so the weight applies once it is customized (easctl group traffic {service.Group} --mode customized)";
            }

            if (weight == service.GroupWeight && newState == service.TrafficState)
            {
                return new ReleaseServiceResponse { Message = message, Group = await GroupInfoAsync(service.Group, ct) };
            }

            var now = time.GetUtcNow();
            var transaction = new StoreTransaction()
                .Put(service with { GroupWeight = weight, TrafficState = newState, UpdatedAt = now })
                .Append(new EventRecord(0, now, service.Name, "", "Released",
                    $"released in group {service.Group} with weight {weight} ({ServiceViews.TrafficStateName(newState)})", ""));
            if ((await store.CommitAsync(transaction, ct)).Succeeded)
            {
                ApiLog.Changed(logger, service.Name, $"released with weight {weight} ({ServiceViews.TrafficStateName(newState)})");
                return new ReleaseServiceResponse { Message = message, Group = await GroupInfoAsync(service.Group, ct) };
            }
        }

        throw Contention(request.Name);
    }

    /// <inheritdoc />
    public override async Task<ListCallRecordsResponse> ListCallRecords(ListCallRecordsRequest request, ServerCallContext context)
    {
        RequireName(request.Service);
        if (!ServiceNamePattern().IsMatch(request.Service))
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument,
                $"service: '{request.Service}' is not a service name (3-63 lowercase letters, digits and _); give the name easctl list shows"));
        }

        if (request.Limit is < 0 or > MaxRecordLimit)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument,
                $"limit: {request.Limit} is out of range; give 1 to {MaxRecordLimit}, or 0 for the latest {DefaultRecordLimit}"));
        }

        var directory = options.Value.EffectiveRecordsDirectory;
        var files = CallRecordFiles.Files(directory, request.Service);
        if (files.Count == 0 && await store.GetServiceAsync(request.Service, context.CancellationToken) is null)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.NotFound,
                $"service '{request.Service}' does not exist and has no call records in {directory}; easctl list shows the services there are"));
        }

        var response = new ListCallRecordsResponse { File = CallRecordFiles.ActiveFile(directory, request.Service) };
        response.Records.AddRange(CallRecordFiles.ReadNewest(directory, request.Service, request.Limit == 0 ? DefaultRecordLimit : request.Limit));
        return response;
    }

    /// <summary>
    /// Adds to <paramref name="transaction"/> what moving <paramref name="service"/> into <paramref name="newGroup"/> ("" for none)
    /// takes: leaving its current group (removed when it was the last member), joining the new one (created when it does
    /// not exist), and an event for each. Returns the service with its group fields set; a member joins "grouping", with
    /// weight 100 in an auto group and 0 in a customized one, so that it takes no traffic before it is released.
    /// </summary>
    private async Task<ServiceRecord> MoveGroupAsync(StoreTransaction transaction, ServiceRecord service, string newGroup, string type, DateTimeOffset now, CancellationToken ct)
    {
        var updated = service with { Type = type };
        if (service.Group == newGroup)
        {
            return updated;
        }

        // Groups first, members second: a member that joins or leaves in between then shows in the list, or
        // rewrote the group and makes this commit fail its compare.
        var oldRecord = service.Group.Length > 0 ? await store.GetGroupAsync(service.Group, ct) : null;
        var newRecord = newGroup.Length > 0 ? await store.GetGroupAsync(newGroup, ct) : null;
        var services = await store.ListServicesAsync(ct);
        if (oldRecord is not null)
        {
            if (Members(services, oldRecord.Name).Any(s => s.Name != service.Name))
            {
                transaction.Put(oldRecord with { UpdatedAt = now });
                transaction.Append(new EventRecord(0, now, service.Name, "", "GroupLeft", $"left group {oldRecord.Name}", ""));
            }
            else
            {
                transaction.Delete(oldRecord);
                transaction.Append(new EventRecord(0, now, service.Name, "", "GroupLeft", $"left group {oldRecord.Name}, its last member: the group is removed", ""));
            }
        }

        if (newGroup.Length == 0)
        {
            return updated with { Group = "", GroupWeight = GroupRecord.DefaultWeight, TrafficState = MemberTrafficState.Grouping };
        }

        int weight;
        if (newRecord is null)
        {
            transaction.Put(new GroupRecord { Name = newGroup, TrafficMode = GroupTrafficMode.Auto, CreatedAt = now, UpdatedAt = now });
            transaction.Append(new EventRecord(0, now, service.Name, "", "GroupJoined", $"joined group {newGroup}, created with it (auto traffic mode)", ""));
            weight = GroupRecord.DefaultWeight;
        }
        else
        {
            transaction.Put(newRecord with { UpdatedAt = now });
            weight = newRecord.TrafficMode == GroupTrafficMode.Customized ? 0 : GroupRecord.DefaultWeight;
            var how = newRecord.TrafficMode == GroupTrafficMode.Customized
                ? "customized traffic mode: weight 0, no group traffic until released with a weight"
                : $"auto traffic mode: a share by Ready instances, weight {weight}";
            transaction.Append(new EventRecord(0, now, service.Name, "", "GroupJoined", $"joined group {newGroup} ({how})", ""));
        }

        return updated with { Group = newGroup, GroupWeight = weight, TrafficState = MemberTrafficState.Grouping };
    }

    /// <summary>The group's members: the services naming it that are not being deleted, by name.</summary>
    private static IEnumerable<ServiceRecord> Members(IEnumerable<ServiceRecord> services, string group) =>
        services.Where(s => !s.Deleting && s.Group == group).OrderBy(s => s.Name, StringComparer.Ordinal);

    private async Task<GroupRecord> GetGroupAsync(string name, CancellationToken ct) =>
        await store.GetGroupAsync(name, ct)
        ?? throw new RpcException(new Grpc.Core.Status(StatusCode.NotFound,
            $"group '{name}' does not exist; easctl group list shows the groups there are (a group is created with its first member, by metadata.group)"));

    private async Task<GroupInfo> GroupInfoAsync(string name, CancellationToken ct) => await GroupInfoAsync(await GetGroupAsync(name, ct), ct);

    private async Task<GroupInfo> GroupInfoAsync(GroupRecord group, CancellationToken ct)
    {
        var services = await store.ListServicesAsync(ct);
        var instances = (await store.ListInstancesAsync(null, ct)).ToLookup(i => i.Service, StringComparer.Ordinal);
        return await GroupInfoAsync(group, services, instances, ct);
    }

    private async Task<GroupInfo> GroupInfoAsync(GroupRecord group, IReadOnlyList<ServiceRecord> services, ILookup<string, InstanceRecord> instances, CancellationToken ct)
    {
        var members = new List<GroupTraffic.Member>();
        foreach (var service in Members(services, group.Name))
        {
            var ready = instances[service.Name].Count(i => !i.Removing && i.State == InstanceState.Ready);
            members.Add(new GroupTraffic.Member(service, await specs.GetAsync(service.Name, service.Version, ct), ready));
        }

        var shares = GroupTraffic.SharesPercent(members, group.TrafficMode);
        var info = new GroupInfo
        {
            Name = group.Name,
            TrafficMode = ServiceViews.TrafficModeName(group.TrafficMode),
            Endpoint = $"{publicEndpoint.Value}/api/predict/{group.Name}",
            Routing = GroupTraffic.UsesLlmRouting(members) ? "llm" : "least_requests",
            CreatedAt = Timestamp.FromDateTimeOffset(group.CreatedAt),
            UpdatedAt = Timestamp.FromDateTimeOffset(group.UpdatedAt),
        };
        for (var i = 0; i < members.Count; i++)
        {
            var service = members[i].Service;
            info.Members.Add(new GroupMember
            {
                Service = service.Name,
                Weight = service.GroupWeight,
                TrafficState = ServiceViews.TrafficStateName(service.TrafficState),
                Ready = members[i].Ready,
                Desired = service.Stopped ? 0 : service.Replicas,
                SharePercent = shares[i],
                Type = service.Type,
                Endpoint = $"{publicEndpoint.Value}/api/predict/{group.Name}.{service.Name}",
                Status = ServiceViews.Status(service, [.. instances[service.Name]]),
            });
        }

        return info;
    }

    private static void RequireGroupName(string name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, "name: must not be empty; give the group name (easctl group list shows them)"));
        }
    }

    [GeneratedRegex(@"^[a-z0-9_]{3,63}\z")]
    private static partial Regex ServiceNamePattern();
}
