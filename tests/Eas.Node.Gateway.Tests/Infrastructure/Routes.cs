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
}
