using System.Globalization;

namespace Eas.Node.LlmBench;

/// <summary>A command-line error: names the option, the rule and the fix.</summary>
internal sealed class CliException(string message) : Exception(message);

/// <summary>
/// A small "--name value" / "--name=value" / "--flag" parser shared by llm-sim and llm-load (linked source).
/// Every option must be declared; an unknown one is an error that lists the known ones.
/// </summary>
internal sealed class CliArgs
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    private CliArgs()
    {
    }

    /// <summary>Parses <paramref name="args"/>; <paramref name="valueOptions"/> take a value, <paramref name="flagOptions"/> do not.</summary>
    public static CliArgs Parse(IReadOnlyList<string> args, IReadOnlyCollection<string> valueOptions, IReadOnlyCollection<string> flagOptions)
    {
        var result = new CliArgs();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                throw new CliException($"\"{arg}\": unexpected argument; options start with -- (see --help)");
            }

            string name;
            string? value = null;
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                name = arg[..eq];
                value = arg[(eq + 1)..];
            }
            else
            {
                name = arg;
            }

            if (flagOptions.Contains(name))
            {
                if (value is not null)
                {
                    throw new CliException($"{name}: takes no value; write {name} alone");
                }

                result._flags.Add(name);
                continue;
            }

            if (!valueOptions.Contains(name))
            {
                var known = string.Join(' ', valueOptions.Concat(flagOptions).Order(StringComparer.Ordinal));
                throw new CliException($"{name}: unknown option; known options: {known}");
            }

            if (value is null)
            {
                if (i + 1 >= args.Count)
                {
                    throw new CliException($"{name}: needs a value; write {name} VALUE");
                }

                value = args[++i];
            }

            if (!result._values.TryGetValue(name, out var list))
            {
                list = [];
                result._values[name] = list;
            }

            list.Add(value);
        }

        return result;
    }

    public bool Has(string name) => _flags.Contains(name) || _values.ContainsKey(name);

    public string? GetString(string name) => _values.TryGetValue(name, out var list) ? list[^1] : null;

    public string GetString(string name, string fallback) => GetString(name) ?? fallback;

    /// <summary>All values of a repeatable option; each value may also be a comma-separated list.</summary>
    public IReadOnlyList<string> GetList(string name)
    {
        if (!_values.TryGetValue(name, out var list))
        {
            return [];
        }

        return list.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
    }

    public int GetInt(string name, int fallback, int min, int max)
    {
        var text = GetString(name);
        if (text is null)
        {
            return fallback;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            throw new CliException($"{name}: \"{text}\" is not a whole number; write e.g. {name} {fallback}");
        }

        if (value < min || value > max)
        {
            throw new CliException($"{name}: {value} is out of range; use {min}..{max}");
        }

        return value;
    }

    public double GetDouble(string name, double fallback, double min, double max)
    {
        var text = GetString(name);
        if (text is null)
        {
            return fallback;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || double.IsNaN(value))
        {
            throw new CliException($"{name}: \"{text}\" is not a number; write e.g. {name} {fallback.ToString(CultureInfo.InvariantCulture)}");
        }

        if (value < min || value > max)
        {
            throw new CliException($"{name}: {value.ToString(CultureInfo.InvariantCulture)} is out of range; use {min.ToString(CultureInfo.InvariantCulture)}..{max.ToString(CultureInfo.InvariantCulture)}");
        }

        return value;
    }

    public string GetChoice(string name, string fallback, params string[] choices)
    {
        var text = GetString(name) ?? fallback;
        if (!choices.Contains(text, StringComparer.Ordinal))
        {
            throw new CliException($"{name}: \"{text}\" is not one of {string.Join(", ", choices)}; write e.g. {name} {fallback}");
        }

        return text;
    }
}
