using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using Eas.Node.Agent.Interop.Nvml.Abi;

namespace Eas.Node.Agent.Tests.Nvml;

/// <summary>Every C# mirror of an nvml.h struct against the sizes and offsets gcc computes for the fake's nvml.h.</summary>
[Collection(FakeNvmlCollection.Name)]
public sealed class NvmlLayoutTests
{
    private static readonly Dictionary<string, Type> _structs = new()
    {
        ["nvmlMemory_t"] = typeof(Memory),
        ["nvmlMemory_v2_t"] = typeof(MemoryV2),
        ["nvmlUtilization_t"] = typeof(Utilization),
        ["nvmlProcessInfo_v1_t"] = typeof(ProcessInfoV1),
        ["nvmlProcessInfo_t"] = typeof(ProcessInfo),
        ["nvmlProcessDetail_v1_t"] = typeof(ProcessDetail),
        ["nvmlProcessDetailList_v1_t"] = typeof(ProcessDetailList),
        ["nvmlProcessUtilizationSample_t"] = typeof(ProcessUtilizationSample),
        ["nvmlPciInfo_t"] = typeof(PciInfo),
        ["nvmlEventData_t"] = typeof(EventData),
        ["nvmlTemperature_v1_t"] = typeof(TemperatureV1),
        ["nvmlGpuInstanceProfileInfo_t"] = typeof(GpuInstanceProfileInfo),
        ["nvmlGpuInstanceProfileInfo_v2_t"] = typeof(GpuInstanceProfileInfoV2),
        ["nvmlGpuInstanceProfileInfo_v3_t"] = typeof(GpuInstanceProfileInfoV3),
        ["nvmlGpuInstancePlacement_t"] = typeof(GpuInstancePlacement),
        ["nvmlGpuInstanceInfo_t"] = typeof(GpuInstanceInfo),
        ["nvmlComputeInstanceProfileInfo_t"] = typeof(ComputeInstanceProfileInfo),
        ["nvmlComputeInstancePlacement_t"] = typeof(ComputeInstancePlacement),
        ["nvmlComputeInstanceInfo_t"] = typeof(ComputeInstanceInfo),
    };

    // C field names whose C# name is not the PascalCase of the C one (a member may not share its struct's name).
    private static readonly Dictionary<(Type, string), string> _renamed = new()
    {
        [(typeof(EventData), "eventData")] = nameof(EventData.Data),
    };

    [Fact]
    public void EveryAbiStruct_MatchesTheCLayout()
    {
        using var layout = JsonDocument.Parse(FakeNvml.Run(FakeNvml.LayoutTool));
        var failures = new List<string>();
        foreach (var (cName, type) in _structs)
        {
            if (!layout.RootElement.TryGetProperty(cName, out var c))
            {
                failures.Add($"{cName}: not printed by nvml-layout");
                continue;
            }

            var size = (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;
            if (size != c.GetProperty("size").GetInt32())
            {
                failures.Add($"{cName}: C size {c.GetProperty("size").GetInt32()}, {type.Name} size {size}");
            }

            var cFields = c.GetProperty("fields").EnumerateObject().ToDictionary(f => f.Name, f => f.Value.GetInt32());
            var csFields = type.GetFields(BindingFlags.Instance | BindingFlags.Public).Select(f => f.Name).ToHashSet();
            foreach (var (field, offset) in cFields)
            {
                var csName = _renamed.GetValueOrDefault((type, field), char.ToUpperInvariant(field[0]) + field[1..]);
                if (!csFields.Remove(csName))
                {
                    failures.Add($"{cName}.{field}: no field {type.Name}.{csName}");
                    continue;
                }

                var csOffset = (int)Marshal.OffsetOf(type, csName);
                if (csOffset != offset)
                {
                    failures.Add($"{cName}.{field}: C offset {offset}, {type.Name}.{csName} offset {csOffset}");
                }
            }

            failures.AddRange(csFields.Select(extra => $"{cName}: {type.Name}.{extra} has no C field"));
        }

        failures.Should().BeEmpty();
    }

    [Fact]
    public void EveryAbiStruct_IsCoveredByTheLayoutTest()
    {
        var abi = typeof(Memory).Assembly.GetTypes().Where(t => t.Namespace == typeof(Memory).Namespace && t.IsValueType && !t.IsNested);

        abi.Except(_structs.Values).Should().BeEmpty("every struct passed to NVML needs its layout checked against C");
    }
}
