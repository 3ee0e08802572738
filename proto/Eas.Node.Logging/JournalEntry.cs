using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Eas.Node.Logging;

/// <summary>
/// One journal entry in journald's native protocol
/// (<see href="https://systemd.io/JOURNAL_NATIVE_PROTOCOL/"/>): one field per line as <c>KEY=value\n</c>, or, for a
/// value holding a newline, <c>KEY\n</c> + the value's length as a 64-bit little-endian integer + the value + <c>\n</c>.
/// </summary>
public sealed class JournalEntry
{
    /// <summary>The longest field name journald accepts.</summary>
    public const int MaxFieldNameLength = 64;

    private readonly ArrayBufferWriter<byte> _buffer = new(512);

    /// <summary>The encoded entry so far.</summary>
    public ReadOnlyMemory<byte> Bytes => _buffer.WrittenMemory;

    /// <summary>
    /// True when <paramref name="name"/> is a field name an application may send: 1-64 characters of A-Z, 0-9 and
    /// '_', not starting with '_' (journald's trusted fields) or a digit.
    /// </summary>
    public static bool IsValidFieldName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxFieldNameLength || name[0] == '_' || char.IsAsciiDigit(name[0]))
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c) || c == '_'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Appends a field; a value with a newline is written in the binary-safe form.</summary>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid field name.</exception>
    public JournalEntry Add(string name, string value)
    {
        if (!IsValidFieldName(name))
        {
            throw new ArgumentException($"'{name}' is not a journal field name: use 1-64 of A-Z, 0-9 and '_', not starting with '_' or a digit", nameof(name));
        }

        var nameLength = Encoding.ASCII.GetBytes(name, _buffer.GetSpan(name.Length));
        _buffer.Advance(nameLength);
        var valueLength = Encoding.UTF8.GetByteCount(value);
        if (value.Contains('\n', StringComparison.Ordinal))
        {
            var header = _buffer.GetSpan(9);
            header[0] = (byte)'\n';
            BinaryPrimitives.WriteUInt64LittleEndian(header[1..], (ulong)valueLength);
            _buffer.Advance(9);
        }
        else
        {
            _buffer.GetSpan(1)[0] = (byte)'=';
            _buffer.Advance(1);
        }

        _buffer.Advance(Encoding.UTF8.GetBytes(value, _buffer.GetSpan(valueLength)));
        _buffer.GetSpan(1)[0] = (byte)'\n';
        _buffer.Advance(1);
        return this;
    }

    /// <summary>Decodes an entry (the inverse of <see cref="Add"/>), in order, for tests and tools.</summary>
    /// <exception cref="FormatException">The bytes are not a well-formed entry.</exception>
    public static IReadOnlyList<KeyValuePair<string, string>> Parse(ReadOnlySpan<byte> entry)
    {
        var fields = new List<KeyValuePair<string, string>>();
        while (!entry.IsEmpty)
        {
            var end = entry.IndexOfAny((byte)'=', (byte)'\n');
            if (end <= 0)
            {
                throw new FormatException("a field has no name");
            }

            var name = Encoding.ASCII.GetString(entry[..end]);
            if (entry[end] == '=')
            {
                var rest = entry[(end + 1)..];
                var newline = rest.IndexOf((byte)'\n');
                if (newline < 0)
                {
                    throw new FormatException($"field {name} does not end with a newline");
                }

                fields.Add(new(name, Encoding.UTF8.GetString(rest[..newline])));
                entry = rest[(newline + 1)..];
            }
            else
            {
                var rest = entry[(end + 1)..];
                if (rest.Length < 8)
                {
                    throw new FormatException($"field {name} has no length");
                }

                var length = BinaryPrimitives.ReadUInt64LittleEndian(rest);
                if ((ulong)rest.Length < 8 + length + 1 || rest[8 + (int)length] != '\n')
                {
                    throw new FormatException($"field {name} is shorter than its length {length} or does not end with a newline");
                }

                fields.Add(new(name, Encoding.UTF8.GetString(rest.Slice(8, (int)length))));
                entry = rest[(8 + (int)length + 1)..];
            }
        }

        return fields;
    }
}
