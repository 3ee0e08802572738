using System.Security.Cryptography;
using System.Text;
using Eas.Node.Contracts.V1;
using Google.Protobuf;

namespace Eas.Node.Gateway.Tests.Infrastructure;

/// <summary>Builds endpoint snapshots the way the coordinator fills them.</summary>
public static class Routes
{
    public static EndpointSnapshot Snapshot(long revision, params ServiceRoute[] services)
    {
        var snapshot = new EndpointSnapshot { Revision = revision };
        snapshot.Services.AddRange(services);
        return snapshot;
    }

    public static ServiceRoute Service(string name, string? token, int keepaliveMs = 0, params string[] addresses)
    {
        var route = new ServiceRoute
        {
            Name = name,
            TokenSha256 = token is null ? ByteString.Empty : ByteString.CopyFrom(SHA256.HashData(Encoding.UTF8.GetBytes(token))),
            KeepaliveMs = keepaliveMs,
            Version = 1,
        };
        for (var i = 0; i < addresses.Length; i++)
        {
            route.Endpoints.Add(new Endpoint { InstanceId = $"{name}-{i}", Address = addresses[i], Node = "node-1" });
        }

        return route;
    }

    /// <summary>A snapshot with service groups (metadata.group) as well as services.</summary>
    public static EndpointSnapshot Snapshot(long revision, GroupRoute[] groups, params ServiceRoute[] services)
    {
        var snapshot = Snapshot(revision, services);
        snapshot.Groups.AddRange(groups);
        return snapshot;
    }

    public static GroupRoute Group(string name, TrafficMode mode = TrafficMode.Auto, RoutingPolicy routing = RoutingPolicy.LeastRequests) =>
        new() { Name = name, TrafficMode = mode, Routing = routing };

    /// <summary>A group member: <see cref="Service"/> with metadata.group and its release weight.</summary>
    public static ServiceRoute Member(string name, string group, int weight, string? token, params string[] addresses)
    {
        var route = Service(name, token, 0, addresses);
        route.Group = group;
        route.GroupWeight = weight;
        return route;
    }
}
