using System.Text;

namespace Eas.Node.Logging.Tests;

public sealed class JournalEntryTests
{
    [Fact]
    public void SingleLineValues_AreKeyEqualsValueLines()
    {
        var entry = new JournalEntry().Add("MESSAGE", "hello").Add("PRIORITY", "6");

        Encoding.UTF8.GetString(entry.Bytes.Span).Should().Be("MESSAGE=hello\nPRIORITY=6\n");
    }

    [Fact]
    public void ValueWithNewline_IsNameNewlineLengthValueNewline()
    {
        var entry = new JournalEntry().Add("MESSAGE", "a\nb").Add("X", "");

        entry.Bytes.ToArray().Should().Equal([.. "MESSAGE\n"u8, 3, 0, 0, 0, 0, 0, 0, 0, .. "a\nb\n"u8, .. "X=\n"u8]);
        JournalEntry.Parse(entry.Bytes.Span).Should().Equal(new KeyValuePair<string, string>("MESSAGE", "a\nb"), new KeyValuePair<string, string>("X", ""));
    }

    [Theory]
    [InlineData("_PID")]
    [InlineData("1ABC")]
    [InlineData("lower")]
    [InlineData("WITH-DASH")]
    [InlineData("")]
    public void InvalidFieldName_IsRefused(string name)
    {
        var add = () => new JournalEntry().Add(name, "v");

        add.Should().Throw<ArgumentException>().WithMessage("*is not a journal field name*");
    }

    [Fact]
    public void FieldNameOf65Characters_IsRefused()
    {
        JournalEntry.IsValidFieldName(new string('A', 64)).Should().BeTrue();
        JournalEntry.IsValidFieldName(new string('A', 65)).Should().BeFalse();
    }

    [Theory]
    [InlineData("InstanceId", "EAS_INSTANCE_ID")]
    [InlineData("CpuMillis", "EAS_CPU_MILLIS")]
    [InlineData("XMLFile", "EAS_XML_FILE")]
    [InlineData("Xid", "EAS_XID")]
    [InlineData("MemoryMib", "EAS_MEMORY_MIB")]
    [InlineData("gpu.index", "EAS_GPU_INDEX")]
    [InlineData("Index2Name", "EAS_INDEX2_NAME")]
    [InlineData("$", null)]
    public void PropertyName_BecomesEasUpperSnakeCase(string property, string? field)
    {
        JournalFields.FieldName(property).Should().Be(field);
    }

    [Theory]
    [InlineData("flask_demo-0a1b2c3d", "flask_demo")]
    [InlineData("my-svc-0a1b2c3d", "my-svc")]
    [InlineData("flask_demo-0A1B2C3D", null)]
    [InlineData("fn-crash", null)]
    [InlineData("-0a1b2c3d", null)]
    public void ServiceOf_InstanceIdsTheCoordinatorMakes(string instance, string? service)
    {
        JournalFields.ServiceOf(instance).Should().Be(service);
    }
}
