using System.Text;
using System.Text.Json;
using Eas.Node.Contracts.V1;
using Google.Protobuf;

namespace Eas.Node.Agent.State;

/// <summary>How far an instance got, recorded before each step so a restarted agent knows what to re-attach or clean up.</summary>
public enum RecordPhase
{
    /// <summary>Venv, mounts, network or bundle are being made; a crash here means "clean up and prepare again".</summary>
    Preparing,

    /// <summary>conmon + runc were asked to run it; re-attach when runc still knows the container.</summary>
    Running,

    /// <summary>The assignment was removed; a crash here means "finish the stop".</summary>
    Stopping,
}

/// <summary>One instance's durable record (instance.json).</summary>
public sealed class InstanceRecord
{
    /// <summary>The assignment as the coordinator sent it.</summary>
    public required InstanceAssignment Assignment { get; set; }

    /// <summary>How far it got.</summary>
    public RecordPhase Phase { get; set; }

    /// <summary>Its CNI address, once it has one.</summary>
    public string Ip { get; set; } = "";

    /// <summary>Restarts since it was first started on this node.</summary>
    public int Restarts { get; set; }

    /// <summary>The virtual environment it uses, if any.</summary>
    public string VenvDir { get; set; } = "";

    /// <summary>The instance id.</summary>
    public string InstanceId => Assignment.InstanceId;

    /// <summary>The container id (runc, conmon, CNI).</summary>
    public string ContainerId => Naming.ContainerId(Assignment.InstanceId);

    /// <summary>Serializes to JSON, with the assignment in protobuf's JSON mapping.</summary>
    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteString("phase", Phase.ToString());
            writer.WriteString("ip", Ip);
            writer.WriteNumber("restarts", Restarts);
            writer.WriteString("venvDir", VenvDir);
            writer.WritePropertyName("assignment");
            writer.WriteRawValue(JsonFormatter.Default.Format(Assignment));
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>Reads a record written by <see cref="ToJson"/>.</summary>
    /// <exception cref="FormatException">The file is not a record.</exception>
    public static InstanceRecord FromJson(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            var assignment = JsonParser.Default.Parse<InstanceAssignment>(root.GetProperty("assignment").GetRawText());
            return new InstanceRecord
            {
                Assignment = assignment,
                Phase = Enum.Parse<RecordPhase>(root.GetProperty("phase").GetString() ?? ""),
                Ip = root.GetProperty("ip").GetString() ?? "",
                Restarts = root.GetProperty("restarts").GetInt32(),
                VenvDir = root.TryGetProperty("venvDir", out var venv) ? venv.GetString() ?? "" : "",
            };
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or ArgumentException or InvalidProtocolBufferException)
        {
            throw new FormatException($"not an instance record: {ex.Message}", ex);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => Encoding.UTF8.GetString(ToJson());
}
