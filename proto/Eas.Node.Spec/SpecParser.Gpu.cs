using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Eas.Node.Spec.Parsing;

namespace Eas.Node.Spec;

public static partial class SpecParser
{
    /// <summary>The feature flag that picks the GPU driver version.</summary>
    private const string DriverVersionFeature = "eas.aliyun.com/gpu-driver-version";

    private const int MaxGpus = 16;

    private const int MaxGpuMemoryGb = 1024;

    private const int MaxGpuTextLength = 64;

    /// <summary>What <c>metadata</c> said about GPUs.</summary>
    /// <param name="Gpu">Whole GPUs (0 when absent or wrong).</param>
    /// <param name="MemoryGb">The slice's GPU memory in GB.</param>
    /// <param name="CorePercentage">The slice's share of the GPU's compute.</param>
    /// <param name="Model">The model substring.</param>
    /// <param name="Requested">True when the spec asks for a GPU in any way, a wrong value included (so that no follow-on error is reported).</param>
    private sealed record GpuValues(int Gpu, int? MemoryGb, int? CorePercentage, string? Model, bool Requested);

    /// <summary><c>metadata.gpu</c>, <c>gpu_memory</c>, <c>gpu_core_percentage</c> and <c>gpu_model</c>, and the rules between them.</summary>
    private static GpuValues ReadGpu(JsonObject metadata, SpecReader reader)
    {
        const string Path = "metadata";
        var gpu = reader.Integer(metadata, Path, "gpu", 0, MaxGpus,
            $"gpu is whole GPUs per instance, 0 to {MaxGpus}", "use e.g. 1; for a share of one GPU, remove gpu and set gpu_memory (GB) instead");
        var memory = reader.Integer(metadata, Path, "gpu_memory", 1, MaxGpuMemoryGb,
            $"gpu_memory is the GPU memory of a slice of one GPU in GB, a whole number from 1 to {MaxGpuMemoryGb}",
            "use a whole number of GB such as 8; for the memory of more than one GPU use gpu (whole GPUs) instead");
        var core = reader.Integer(metadata, Path, "gpu_core_percentage", 1, 100,
            "gpu_core_percentage is the slice's share of one GPU's compute in percent, 1 to 100", "use e.g. 50");
        var model = ReadGpuModel(metadata, reader);

        var hasMemory = metadata.ContainsKey("gpu_memory");
        var hasCore = metadata.ContainsKey("gpu_core_percentage");
        if (gpu is >= 1 && (hasMemory || hasCore))
        {
            var slice = string.Join(" and ", new[] { hasMemory ? "gpu_memory" : null, hasCore ? "gpu_core_percentage" : null }.OfType<string>());
            var whole = gpu == 1 ? "1 whole GPU" : $"{gpu} whole GPUs";
            reader.Error(SpecPath.Child(Path, "gpu"),
                $"{whole} cannot be combined with {slice} (EAS ignores {slice} when gpu is 1 or more; Eas.Node refuses the mix)",
                $"use either whole GPUs or a slice: remove {slice} for {whole}, or remove gpu (or set it to 0) for a slice of one GPU");
        }
        else if (hasCore && !hasMemory)
        {
            reader.Error(SpecPath.Child(Path, "gpu_core_percentage"),
                "needs gpu_memory too; a GPU slice is sized by its GPU memory, and the core percentage only limits its compute",
                "add \"gpu_memory\": 8 (GB of the GPU's memory), or remove gpu_core_percentage");
        }

        // A wrong gpu value counts as a request: its own error says what to fix.
        var requested = gpu is > 0 || (gpu is null && metadata.ContainsKey("gpu")) || hasMemory;
        if (model is not null && !requested)
        {
            reader.Error(SpecPath.Child(Path, "gpu_model"),
                $"{SpecReader.Quote(model)} picks a GPU model, but the service asks for no GPU",
                "set metadata.gpu (whole GPUs) or metadata.gpu_memory (a slice, in GB), or remove gpu_model");
        }

        return new GpuValues((int)(gpu ?? 0), (int?)memory, (int?)core, model, requested);
    }

    private static string? ReadGpuModel(JsonObject metadata, SpecReader reader)
    {
        const string Fix = "write part of the GPU's model name, such as \"H100\" or \"A10\" (letters, digits, -, _, . and spaces)";
        if (reader.String(metadata, "metadata", "gpu_model") is not { } text)
        {
            return null;
        }

        var path = SpecPath.Child("metadata", "gpu_model");
        var model = text.Trim();
        if (model.Length == 0)
        {
            reader.Error(path, "must not be empty", $"{Fix}, or remove gpu_model to accept any model");
            return null;
        }

        if (model.Length > MaxGpuTextLength)
        {
            reader.Error(path, $"is {model.Length} characters long; a GPU model is at most {MaxGpuTextLength}", Fix);
            return null;
        }

        foreach (var rune in model.EnumerateRunes())
        {
            if (!rune.IsAscii || !IsGpuModelChar((char)rune.Value))
            {
                reader.Error(path, $"{SpecReader.Quote(model)} has the character {SpecReader.Quote(rune.ToString())}; a GPU model is letters, digits, -, _, . and spaces", Fix);
                return null;
            }
        }

        return model;
    }

    private static bool IsGpuModelChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ' ';

    /// <summary>
    /// <c>features</c>: a map of EAS feature flags. Only the GPU driver version is read; its value is
    /// <c>"tesla=550.127.08"</c> (EAS) or a bare <c>"550.127.08"</c>, and the version part is kept.
    /// </summary>
    private static string? ReadFeatures(JsonObject root, SpecReader reader, GpuValues gpu)
    {
        const string Fix = "write the driver version as digits and dots, optionally after a family and '=': \"tesla=550.127.08\", \"550.127.08\" or \"550\"";
        if (reader.Object(root, SpecPath.Root, "features") is not { } features)
        {
            return null;
        }

        reader.OtherKeys(features, "features", DriverVersionFeature);
        if (reader.String(features, "features", DriverVersionFeature) is not { } text)
        {
            return null;
        }

        var path = SpecPath.Child("features", DriverVersionFeature);
        var value = text.Trim();
        var match = DriverVersionPattern().Match(value);
        if (!match.Success || value.Length > MaxGpuTextLength)
        {
            reader.Error(path, $"{SpecReader.Quote(value)} is not a GPU driver version", Fix);
            return null;
        }

        var version = match.Groups["version"].Value;
        if (!gpu.Requested)
        {
            reader.Error(path, $"asks for GPU driver {version}, but the service asks for no GPU",
                "set metadata.gpu (whole GPUs) or metadata.gpu_memory (a slice, in GB), or remove the feature; on Alibaba Cloud the GPU may come from cloud.computing.instance_type, which is ignored here");
            return null;
        }

        return version;
    }

    [GeneratedRegex(@"^(?:[A-Za-z][A-Za-z0-9_\-]*=)?(?<version>[0-9]+(?:\.[0-9]+)*)\z")]
    private static partial Regex DriverVersionPattern();
}
