using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Serilog.Events;
using Serilog.Formatting.Display;

namespace Eas.Node.Logging;

/// <summary>
/// Turns a Serilog event into journal fields: MESSAGE (the rendered message, then the exception), PRIORITY,
/// SYSLOG_IDENTIFIER, and one <c>EAS_*</c> field per log property. The properties every daemon uses get fixed names
/// so that <c>journalctl EAS_SERVICE=flask_demo</c> finds a service's lines in all of them:
/// <list type="bullet">
/// <item><c>{Service}</c>, <c>{ServiceName}</c> → <c>EAS_SERVICE</c></item>
/// <item><c>{InstanceId}</c>, <c>{Instance}</c> → <c>EAS_INSTANCE</c> (and a <c>{ContainerId}</c> of <c>eas-&lt;instance&gt;</c> gives it too)</item>
/// <item><c>{Node}</c>, <c>{NodeName}</c> → <c>EAS_NODE</c></item>
/// <item>the event id of a <c>[LoggerMessage]</c> → <c>EAS_EVENT</c> (its name, else its number)</item>
/// </list>
/// A line that names an instance but no service gets <c>EAS_SERVICE</c> from the instance id
/// (<c>&lt;service&gt;-&lt;8 hex digits&gt;</c>, as the coordinator names instances). Any other property becomes
/// <c>EAS_</c> + its name in upper snake case (<c>{ContainerId}</c> → <c>EAS_CONTAINER_ID</c>).
/// </summary>
public static partial class JournalFields
{
    /// <summary>The service the line is about.</summary>
    public const string Service = "EAS_SERVICE";

    /// <summary>The instance the line is about.</summary>
    public const string Instance = "EAS_INSTANCE";

    /// <summary>The node the line is about.</summary>
    public const string Node = "EAS_NODE";

    /// <summary>The [LoggerMessage] event: its name, else its id.</summary>
    public const string Event = "EAS_EVENT";

    /// <summary>The exception's type when the line carries one (the exception itself follows the message).</summary>
    public const string ExceptionType = "EAS_EXCEPTION_TYPE";

    private static readonly Dictionary<string, string> _wellKnown = new(StringComparer.Ordinal)
    {
        ["Service"] = Service,
        ["ServiceName"] = Service,
        ["InstanceId"] = Instance,
        ["Instance"] = Instance,
        ["Node"] = Node,
        ["NodeName"] = Node,
        ["EventId"] = Event,
    };

    private static readonly MessageTemplateTextFormatter _message = new("{Message:lj}", CultureInfo.InvariantCulture);

    /// <summary>The syslog priority of a Serilog level: Fatal 2 (crit), Error 3, Warning 4, Information 6, Debug and Verbose 7.</summary>
    public static int Priority(LogEventLevel level) => level switch
    {
        LogEventLevel.Fatal => 2,
        LogEventLevel.Error => 3,
        LogEventLevel.Warning => 4,
        LogEventLevel.Information => 6,
        _ => 7,
    };

    /// <summary>Encodes <paramref name="logEvent"/> as one journal entry.</summary>
    public static JournalEntry ToEntry(LogEvent logEvent, string syslogIdentifier)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        var entry = new JournalEntry();
        entry.Add("MESSAGE", RenderMessage(logEvent));
        entry.Add("PRIORITY", Priority(logEvent.Level).ToString(CultureInfo.InvariantCulture));
        entry.Add("SYSLOG_IDENTIFIER", syslogIdentifier);
        if (logEvent.Exception is { } exception)
        {
            entry.Add(ExceptionType, exception.GetType().FullName ?? exception.GetType().Name);
        }

        foreach (var (name, value) in Properties(logEvent))
        {
            entry.Add(name, value);
        }

        return entry;
    }

    /// <summary>The message as the console shows it (strings unquoted), then the exception on the next lines.</summary>
    public static string RenderMessage(LogEvent logEvent)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        _message.Format(logEvent, writer);
        if (logEvent.Exception is { } exception)
        {
            writer.Write('\n');
            writer.Write(exception.ToString());
        }

        return writer.ToString();
    }

    /// <summary>The <c>EAS_*</c> fields of the event's properties, each name once, well-known names first.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Properties(LogEvent logEvent)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (property, value) in logEvent.Properties)
        {
            if (_wellKnown.TryGetValue(property, out var field))
            {
                var text = property == "EventId" ? EventName(value) : Scalar(value);
                if (!string.IsNullOrEmpty(text))
                {
                    fields.TryAdd(field, text);
                }
            }
        }

        if (!fields.ContainsKey(Instance) && logEvent.Properties.TryGetValue("ContainerId", out var container)
            && Scalar(container) is { } cid && cid.StartsWith("eas-", StringComparison.Ordinal) && cid.Length > 4)
        {
            fields[Instance] = cid[4..];
        }

        if (!fields.ContainsKey(Service) && fields.TryGetValue(Instance, out var instance) && ServiceOf(instance) is { } service)
        {
            fields[Service] = service;
        }

        foreach (var (property, value) in logEvent.Properties)
        {
            if (_wellKnown.ContainsKey(property))
            {
                continue;
            }

            var name = FieldName(property);
            if (name is not null)
            {
                fields.TryAdd(name, Scalar(value) ?? "");
            }
        }

        return [.. fields];
    }

    /// <summary>
    /// The service of an instance id the coordinator made (<c>&lt;service&gt;-&lt;8 lowercase hex digits&gt;</c>), or
    /// null for any other id.
    /// </summary>
    public static string? ServiceOf(string instanceId)
    {
        var match = InstanceIdPattern().Match(instanceId);
        return match.Success ? match.Groups[1].Value : null;
    }

    /// <summary><c>EAS_</c> + the property name in upper snake case (<c>ContainerId</c> → <c>EAS_CONTAINER_ID</c>); null when nothing valid remains.</summary>
    public static string? FieldName(string property)
    {
        var builder = new StringBuilder("EAS_", property.Length + 8);
        for (var i = 0; i < property.Length; i++)
        {
            var c = property[i];
            if (char.IsAsciiLetterUpper(c))
            {
                // A word starts at an upper-case letter after a lower-case one or a digit, or before a lower-case one in an acronym (XMLFile → XML_FILE).
                var previous = i > 0 ? property[i - 1] : '_';
                var next = i + 1 < property.Length ? property[i + 1] : '_';
                if (i > 0 && builder[^1] != '_' && (char.IsAsciiLetterLower(previous) || char.IsAsciiDigit(previous) || (char.IsAsciiLetterUpper(previous) && char.IsAsciiLetterLower(next))))
                {
                    builder.Append('_');
                }

                builder.Append(c);
            }
            else if (char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c))
            {
                builder.Append(char.ToUpperInvariant(c));
            }
            else if (builder[^1] != '_')
            {
                builder.Append('_');
            }
        }

        var name = builder.ToString().TrimEnd('_');
        if (name.Length > JournalEntry.MaxFieldNameLength)
        {
            name = name[..JournalEntry.MaxFieldNameLength].TrimEnd('_');
        }

        return name.Length > 4 && JournalEntry.IsValidFieldName(name) ? name : null;
    }

    private static string? Scalar(LogEventPropertyValue value) => value switch
    {
        ScalarValue { Value: null } => null,
        ScalarValue { Value: string s } => s,
        ScalarValue { Value: IFormattable f } => f.ToString(null, CultureInfo.InvariantCulture),
        ScalarValue s => s.Value.ToString(),
        _ => value.ToString(null, CultureInfo.InvariantCulture),
    };

    /// <summary>Microsoft.Extensions.Logging's event id as Serilog carries it: a structure {Id, Name}.</summary>
    private static string? EventName(LogEventPropertyValue value)
    {
        if (value is not StructureValue structure)
        {
            return Scalar(value);
        }

        string? id = null;
        foreach (var property in structure.Properties)
        {
            if (property.Name == "Name" && Scalar(property.Value) is { Length: > 0 } name)
            {
                return name;
            }

            if (property.Name == "Id")
            {
                id = Scalar(property.Value);
            }
        }

        return id;
    }

    [GeneratedRegex("^(.+)-[0-9a-f]{8}$", RegexOptions.CultureInvariant)]
    private static partial Regex InstanceIdPattern();
}
