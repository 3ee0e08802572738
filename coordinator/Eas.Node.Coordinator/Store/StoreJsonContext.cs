using System.Text.Json.Serialization;

namespace Eas.Node.Coordinator.Store;

/// <summary>The serialized form of stored objects: the same JSON documents an etcd store would keep as values.</summary>
[JsonSourceGenerationOptions(UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ServiceRecord))]
[JsonSerializable(typeof(ServiceVersionRecord))]
[JsonSerializable(typeof(InstanceRecord))]
[JsonSerializable(typeof(NodeRecord))]
[JsonSerializable(typeof(EventRecord))]
[JsonSerializable(typeof(GroupRecord))]
internal sealed partial class StoreJsonContext : JsonSerializerContext
{
}
