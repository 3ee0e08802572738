namespace Eas.Node.Contracts.V1;

/// <summary>The values of <see cref="GpuAllocation.Kind"/>, the one place they are spelled.</summary>
public sealed partial class GpuAllocation
{
    /// <summary>Whole GPUs, one instance each.</summary>
    public const string WholeKind = "whole";

    /// <summary>A MIG device (<see cref="MigUuid"/>) of one GPU.</summary>
    public const string MigKind = "mig";

    /// <summary>A slice of a GPU shared with other instances under MPS.</summary>
    public const string SharedKind = "shared";

    /// <summary>True for a MIG device.</summary>
    public bool IsMig => Kind == MigKind;

    /// <summary>True for a slice of a shared GPU.</summary>
    public bool IsShared => Kind == SharedKind;

    /// <summary>The UUIDs CUDA should see: the MIG device, or the GPUs.</summary>
    public IReadOnlyList<string> VisibleUuids => IsMig ? [MigUuid] : [.. GpuUuids];
}
