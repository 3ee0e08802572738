namespace Eas.Node.Spec.Tests;

/// <summary><c>metadata.gpu</c>, <c>gpu_memory</c>, <c>gpu_core_percentage</c>, <c>gpu_model</c> and the GPU driver version feature.</summary>
public sealed class SpecGpuTests
{
    private const string DriverPath = "features[\"eas.aliyun.com/gpu-driver-version\"]";

    private const string GpuFix = "use e.g. 1; for a share of one GPU, remove gpu and set gpu_memory (GB) instead";

    private const string GpuMemoryFix = "use a whole number of GB such as 8; for the memory of more than one GPU use gpu (whole GPUs) instead";

    private const string GpuModelFix = "write part of the GPU's model name, such as \"H100\" or \"A10\" (letters, digits, -, _, . and spaces)";

    private const string DriverFix = "write the driver version as digits and dots, optionally after a family and '=': \"tesla=550.127.08\", \"550.127.08\" or \"550\"";

    private static string Spec(string metadataExtra = "", string top = "") => $$"""
        { "metadata": { "name": "svc_one" {{metadataExtra}} },
          "containers": [{ "image": "host", "port": 8000, "script": "python3 app.py" }] {{top}} }
        """;

    private static string Driver(string value) => $$""", "features": { "eas.aliyun.com/gpu-driver-version": {{value}} }""";

    [Fact]
    public void Parse_NoGpuKeys_NoGpu()
    {
        var spec = SpecParser.Parse(Spec()).Spec!;

        spec.Gpu.Should().Be(0);
        spec.GpuMemoryGb.Should().BeNull();
        spec.GpuCorePercentage.Should().BeNull();
        spec.GpuModel.Should().BeNull();
        spec.GpuDriverVersion.Should().BeNull();
        spec.GpuMemoryMib.Should().Be(0);
        spec.UsesGpu.Should().BeFalse();
    }

    [Fact]
    public void Parse_WholeGpus_ModelAndEasDriverVersion_AreReadWithoutWarnings()
    {
        var result = SpecParser.Parse(Spec(""", "gpu": 2, "gpu_model": " H100 SXM " """, Driver("\"tesla=550.127.08\"")));

        result.Errors.Should().BeEmpty();
        result.Warnings.Should().BeEmpty();
        var spec = result.Spec!;
        spec.Gpu.Should().Be(2);
        spec.GpuMemoryGb.Should().BeNull();
        spec.GpuCorePercentage.Should().BeNull();
        spec.GpuModel.Should().Be("H100 SXM");
        spec.GpuDriverVersion.Should().Be("550.127.08");
        spec.GpuMemoryMib.Should().Be(0);
        spec.UsesGpu.Should().BeTrue();
    }

    [Fact]
    public void Parse_Slice_MemoryInGbAndCorePercentage()
    {
        var result = SpecParser.Parse(Spec(""", "gpu": 0, "gpu_memory": 8, "gpu_core_percentage": 50, "gpu_model": "A10" """));

        result.Errors.Should().BeEmpty();
        result.Warnings.Should().BeEmpty();
        var spec = result.Spec!;
        spec.Gpu.Should().Be(0);
        spec.GpuMemoryGb.Should().Be(8);
        spec.GpuMemoryMib.Should().Be(8 * 1024);
        spec.GpuCorePercentage.Should().Be(50);
        spec.GpuModel.Should().Be("A10");
        spec.UsesGpu.Should().BeTrue();
    }

    [Fact]
    public void Parse_SliceWithoutCorePercentage_IsValid()
    {
        var spec = SpecParser.Parse(Spec(""", "gpu_memory": 1024""")).Spec!;

        spec.GpuMemoryGb.Should().Be(1024);
        spec.GpuMemoryMib.Should().Be(1024L * 1024);
        spec.GpuCorePercentage.Should().BeNull();
        spec.UsesGpu.Should().BeTrue();
    }

    [Theory]
    [InlineData("\"tesla=550.127.08\"", "550.127.08")]
    [InlineData("\"550.127.08\"", "550.127.08")]
    [InlineData("\"550\"", "550")]
    [InlineData("\" tesla=535.104 \"", "535.104")]
    public void Parse_DriverVersion_KeepsTheVersionPart(string value, string version)
    {
        var result = SpecParser.Parse(Spec(""", "gpu": 1""", Driver(value)));

        result.Errors.Should().BeEmpty();
        result.Spec!.GpuDriverVersion.Should().Be(version);
    }

    [Fact]
    public void Parse_DottedGpuKeys_SameAsNested()
    {
        var dotted = SpecParser.Parse("""
            { "metadata.name": "svc_one", "metadata.gpu_memory": 16, "metadata.gpu_core_percentage": 25, "metadata.gpu_model": "L40S",
              "features.eas.aliyun.com/gpu-driver-version": "550",
              "containers": [{ "image": "host", "port": 8000, "script": "python3 app.py" }] }
            """);
        var nested = SpecParser.Parse(Spec(""", "gpu_memory": 16, "gpu_core_percentage": 25, "gpu_model": "L40S" """, Driver("\"550\"")));

        dotted.Errors.Should().BeEmpty();
        dotted.Warnings.Should().BeEmpty();
        dotted.Spec.Should().Be(nested.Spec);
        dotted.Spec!.GpuMemoryGb.Should().Be(16);
    }

    [Fact]
    public void Parse_GpuKeys_AreNoLongerWarnings()
    {
        var result = SpecParser.Parse(Spec(""", "gpu": 1, "gpu_model": "H100" """, Driver("\"tesla=550.127.08\"")));
        var slice = SpecParser.Parse(Spec(""", "gpu_memory": 8, "gpu_core_percentage": 50""", Driver("\"550\"")));

        result.Warnings.Should().BeEmpty();
        slice.Warnings.Should().BeEmpty();
        result.IsValid.Should().BeTrue();
        slice.IsValid.Should().BeTrue();
    }

    [Fact]
    public void Parse_OtherFeatureFlags_StillWarnings()
    {
        var result = SpecParser.Parse(Spec(""", "gpu": 1""", """
            , "features": { "eas.aliyun.com/extra-ephemeral-storage": "100Gi", "eas.aliyun.com/gpu-driver-verison": "550" }
            """));

        result.IsValid.Should().BeTrue();
        result.Spec!.GpuDriverVersion.Should().BeNull();
        result.Warnings.Select(w => w.ToString()).Should().BeEquivalentTo(
            "features[\"eas.aliyun.com/extra-ephemeral-storage\"]: not supported yet, ignored; remove it; Eas.Node does not act on it yet",
            "features[\"eas.aliyun.com/gpu-driver-verison\"]: unknown key \"eas.aliyun.com/gpu-driver-verison\", ignored; check the spelling; keys read here: eas.aliyun.com/gpu-driver-version");
    }

    [Theory]
    // metadata.gpu: type and range.
    [InlineData(", \"gpu\": \"1\"", "", "metadata.gpu",
        "metadata.gpu: must be a whole number, got the string \"1\"; write 1 without quotes")]
    [InlineData(", \"gpu\": 1.5", "", "metadata.gpu",
        "metadata.gpu: must be a whole number, got 1.5; " + GpuFix)]
    [InlineData(", \"gpu\": -1", "", "metadata.gpu",
        "metadata.gpu: -1 is out of range; gpu is whole GPUs per instance, 0 to 16; " + GpuFix)]
    [InlineData(", \"gpu\": 17", "", "metadata.gpu",
        "metadata.gpu: 17 is out of range; gpu is whole GPUs per instance, 0 to 16; " + GpuFix)]
    // Whole GPUs and a slice together.
    [InlineData(", \"gpu\": 1, \"gpu_memory\": 8", "", "metadata.gpu",
        "metadata.gpu: 1 whole GPU cannot be combined with gpu_memory (EAS ignores gpu_memory when gpu is 1 or more; Eas.Node refuses the mix); "
        + "use either whole GPUs or a slice: remove gpu_memory for 1 whole GPU, or remove gpu (or set it to 0) for a slice of one GPU")]
    [InlineData(", \"gpu\": 2, \"gpu_core_percentage\": 50", "", "metadata.gpu",
        "metadata.gpu: 2 whole GPUs cannot be combined with gpu_core_percentage (EAS ignores gpu_core_percentage when gpu is 1 or more; Eas.Node refuses the mix); "
        + "use either whole GPUs or a slice: remove gpu_core_percentage for 2 whole GPUs, or remove gpu (or set it to 0) for a slice of one GPU")]
    [InlineData(", \"gpu\": 2, \"gpu_memory\": 8, \"gpu_core_percentage\": 50", "", "metadata.gpu",
        "metadata.gpu: 2 whole GPUs cannot be combined with gpu_memory and gpu_core_percentage (EAS ignores gpu_memory and gpu_core_percentage when gpu is 1 or more; Eas.Node refuses the mix); "
        + "use either whole GPUs or a slice: remove gpu_memory and gpu_core_percentage for 2 whole GPUs, or remove gpu (or set it to 0) for a slice of one GPU")]
    // gpu_core_percentage.
    [InlineData(", \"gpu_core_percentage\": 50", "", "metadata.gpu_core_percentage",
        "metadata.gpu_core_percentage: needs gpu_memory too; a GPU slice is sized by its GPU memory, and the core percentage only limits its compute; "
        + "add \"gpu_memory\": 8 (GB of the GPU's memory), or remove gpu_core_percentage")]
    [InlineData(", \"gpu_memory\": 8, \"gpu_core_percentage\": 0", "", "metadata.gpu_core_percentage",
        "metadata.gpu_core_percentage: 0 is out of range; gpu_core_percentage is the slice's share of one GPU's compute in percent, 1 to 100; use e.g. 50")]
    [InlineData(", \"gpu_memory\": 8, \"gpu_core_percentage\": 101", "", "metadata.gpu_core_percentage",
        "metadata.gpu_core_percentage: 101 is out of range; gpu_core_percentage is the slice's share of one GPU's compute in percent, 1 to 100; use e.g. 50")]
    // gpu_memory.
    [InlineData(", \"gpu_memory\": 0", "", "metadata.gpu_memory",
        "metadata.gpu_memory: 0 is out of range; gpu_memory is the GPU memory of a slice of one GPU in GB, a whole number from 1 to 1024; " + GpuMemoryFix)]
    [InlineData(", \"gpu_memory\": 1025", "", "metadata.gpu_memory",
        "metadata.gpu_memory: 1025 is out of range; gpu_memory is the GPU memory of a slice of one GPU in GB, a whole number from 1 to 1024; " + GpuMemoryFix)]
    [InlineData(", \"gpu_memory\": 1.5", "", "metadata.gpu_memory",
        "metadata.gpu_memory: must be a whole number, got 1.5; " + GpuMemoryFix)]
    [InlineData(", \"gpu_memory\": \"8\"", "", "metadata.gpu_memory",
        "metadata.gpu_memory: must be a whole number, got the string \"8\"; write 8 without quotes")]
    // gpu_model.
    [InlineData(", \"gpu\": 1, \"gpu_model\": \"\"", "", "metadata.gpu_model",
        "metadata.gpu_model: must not be empty; " + GpuModelFix + ", or remove gpu_model to accept any model")]
    [InlineData(", \"gpu\": 1, \"gpu_model\": \"   \"", "", "metadata.gpu_model",
        "metadata.gpu_model: must not be empty; " + GpuModelFix + ", or remove gpu_model to accept any model")]
    [InlineData(", \"gpu\": 1, \"gpu_model\": \"H100!\"", "", "metadata.gpu_model",
        "metadata.gpu_model: \"H100!\" has the character \"!\"; a GPU model is letters, digits, -, _, . and spaces; " + GpuModelFix)]
    [InlineData(", \"gpu\": 1, \"gpu_model\": \"A100/80G\"", "", "metadata.gpu_model",
        "metadata.gpu_model: \"A100/80G\" has the character \"/\"; a GPU model is letters, digits, -, _, . and spaces; " + GpuModelFix)]
    [InlineData(", \"gpu\": 1, \"gpu_model\": 100", "", "metadata.gpu_model",
        "metadata.gpu_model: must be a string, got 100; put it in quotes: \"100\"")]
    [InlineData(", \"gpu_model\": \"H100\"", "", "metadata.gpu_model",
        "metadata.gpu_model: \"H100\" picks a GPU model, but the service asks for no GPU; set metadata.gpu (whole GPUs) or metadata.gpu_memory (a slice, in GB), or remove gpu_model")]
    [InlineData(", \"gpu\": 0, \"gpu_model\": \"H100\"", "", "metadata.gpu_model",
        "metadata.gpu_model: \"H100\" picks a GPU model, but the service asks for no GPU; set metadata.gpu (whole GPUs) or metadata.gpu_memory (a slice, in GB), or remove gpu_model")]
    // The driver version feature.
    [InlineData(", \"gpu\": 1", ", \"features\": { \"eas.aliyun.com/gpu-driver-version\": \"tesla=\" }", DriverPath,
        DriverPath + ": \"tesla=\" is not a GPU driver version; " + DriverFix)]
    [InlineData(", \"gpu\": 1", ", \"features\": { \"eas.aliyun.com/gpu-driver-version\": \"550.\" }", DriverPath,
        DriverPath + ": \"550.\" is not a GPU driver version; " + DriverFix)]
    [InlineData(", \"gpu\": 1", ", \"features\": { \"eas.aliyun.com/gpu-driver-version\": \"tesla=550..127\" }", DriverPath,
        DriverPath + ": \"tesla=550..127\" is not a GPU driver version; " + DriverFix)]
    [InlineData(", \"gpu\": 1", ", \"features\": { \"eas.aliyun.com/gpu-driver-version\": \"=550\" }", DriverPath,
        DriverPath + ": \"=550\" is not a GPU driver version; " + DriverFix)]
    [InlineData(", \"gpu\": 1", ", \"features\": { \"eas.aliyun.com/gpu-driver-version\": \"v550\" }", DriverPath,
        DriverPath + ": \"v550\" is not a GPU driver version; " + DriverFix)]
    [InlineData(", \"gpu\": 1", ", \"features\": { \"eas.aliyun.com/gpu-driver-version\": \"tesla=550.x\" }", DriverPath,
        DriverPath + ": \"tesla=550.x\" is not a GPU driver version; " + DriverFix)]
    [InlineData(", \"gpu\": 1", ", \"features\": { \"eas.aliyun.com/gpu-driver-version\": \"\" }", DriverPath,
        DriverPath + ": \"\" is not a GPU driver version; " + DriverFix)]
    [InlineData(", \"gpu\": 1", ", \"features\": { \"eas.aliyun.com/gpu-driver-version\": 550 }", DriverPath,
        DriverPath + ": must be a string, got 550; put it in quotes: \"550\"")]
    [InlineData("", ", \"features\": { \"eas.aliyun.com/gpu-driver-version\": \"tesla=550.127.08\" }", DriverPath,
        DriverPath + ": asks for GPU driver 550.127.08, but the service asks for no GPU; set metadata.gpu (whole GPUs) or metadata.gpu_memory (a slice, in GB), "
        + "or remove the feature; on Alibaba Cloud the GPU may come from cloud.computing.instance_type, which is ignored here")]
    [InlineData(", \"gpu\": 1", ", \"features\": \"tesla=550\"", "features",
        "features: must be an object, got the string \"tesla=550\"; give an object")]
    public void Parse_BadGpuValue_OneErrorWithPathRuleAndFix(string metadataExtra, string top, string path, string diagnostic)
    {
        var result = SpecParser.Parse(Spec(metadataExtra, top));

        result.IsValid.Should().BeFalse();
        result.Errors.Should().ContainSingle($"errors were: {string.Join(" | ", result.Errors)}")
            .Which.Should().Match<SpecDiagnostic>(e => e.Path == path);
        result.Errors.Single().ToString().Should().Be(diagnostic);
    }

    [Fact]
    public void Parse_GpuModelTooLong_IsAnError()
    {
        var result = SpecParser.Parse(Spec($", \"gpu\": 1, \"gpu_model\": \"{new string('A', 65)}\""));

        result.Errors.Should().ContainSingle().Which.Message.Should().Be("is 65 characters long; a GPU model is at most 64");
    }

    [Fact]
    public void Parse_GpuModelWithNonAsciiLetter_NamesTheCharacter()
    {
        var result = SpecParser.Parse(Spec(""", "gpu": 1, "gpu_model": "H100\u00e9" """));

        result.Errors.Should().ContainSingle().Which.Message.Should().Contain("has the character \"\u00e9\"");
    }

    [Fact]
    public void Parse_WrongGpuValue_NoFollowOnErrorsAboutModelOrDriver()
    {
        var result = SpecParser.Parse(Spec(""", "gpu": 17, "gpu_model": "H100" """, Driver("\"550\"")));

        result.Errors.Select(e => e.Path).Should().Equal("metadata.gpu");
    }

    [Fact]
    public void Parse_EveryGpuError_ReportedAtOnce()
    {
        var result = SpecParser.Parse(Spec(""", "gpu": 1, "gpu_memory": 2000, "gpu_model": "x/y" """, Driver("\"tesla\"")));

        result.Errors.Select(e => e.Path).Should().BeEquivalentTo("metadata.gpu", "metadata.gpu_memory", "metadata.gpu_model", DriverPath);
    }

    [Fact]
    public void ToJson_GpuFields_CanonicalAndParsedBack()
    {
        var spec = SpecParser.Parse(Spec(""", "gpu_memory": 8, "gpu_core_percentage": 50, "gpu_model": " A10 " """, Driver("\"tesla=550.127.08\""))).Spec!;

        var json = SpecWriter.ToJson(spec);

        json.Should().Contain("\"gpu_memory\": 8,").And.Contain("\"gpu_core_percentage\": 50,").And.Contain("\"gpu_model\": \"A10\",")
            .And.Contain("\"eas.aliyun.com/gpu-driver-version\": \"550.127.08\"").And.NotContain("\"gpu\":").And.NotContain("tesla");
        var back = SpecParser.Parse(json);
        back.Warnings.Should().BeEmpty();
        back.Spec.Should().Be(spec);
        SpecWriter.ToJson(back.Spec!).Should().Be(json);
    }

    [Fact]
    public void ToJson_WholeGpus_WritesGpu()
    {
        var spec = SpecParser.Parse(Spec(""", "gpu": 4""")).Spec!;

        var json = SpecWriter.ToJson(spec);

        json.Should().Contain("\"gpu\": 4,").And.NotContain("gpu_memory").And.NotContain("features");
        SpecParser.Parse(json).Spec.Should().Be(spec);
    }

    [Fact]
    public void ToJson_NoGpu_WritesNoGpuKeys()
    {
        var json = SpecWriter.ToJson(SpecParser.Parse(Spec()).Spec!);

        json.Should().NotContain("gpu").And.NotContain("features");
    }
}
