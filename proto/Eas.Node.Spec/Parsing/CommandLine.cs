using System.Text;

namespace Eas.Node.Spec.Parsing;

/// <summary>
/// Splits a <c>command</c> string into arguments the way a POSIX shell splits words, without
/// expanding anything: blanks separate words, '…' keeps everything literally, "…" keeps everything
/// but lets \ escape " \ $ and `, and a \ outside quotes makes the next character literal.
/// </summary>
internal static class CommandLine
{
    /// <summary>The arguments, or null with <paramref name="problem"/> saying what is wrong.</summary>
    public static List<string>? Split(string text, out string? problem)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        var quote = '\0';
        var quoteStart = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quote == '\'')
            {
                if (c == '\'')
                {
                    quote = '\0';
                }
                else
                {
                    word.Append(c);
                }
            }
            else if (quote == '"')
            {
                if (c == '"')
                {
                    quote = '\0';
                }
                else if (c == '\\' && i + 1 < text.Length && text[i + 1] is '"' or '\\' or '$' or '`')
                {
                    word.Append(text[++i]);
                }
                else
                {
                    word.Append(c);
                }
            }
            else if (c is ' ' or '\t' or '\n' or '\r')
            {
                if (inWord)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                }
            }
            else if (c is '\'' or '"')
            {
                quote = c;
                quoteStart = i;
                inWord = true;
            }
            else if (c == '\\')
            {
                if (i + 1 == text.Length)
                {
                    problem = "ends with a lone backslash";
                    return null;
                }

                word.Append(text[++i]);
                inWord = true;
            }
            else
            {
                word.Append(c);
                inWord = true;
            }
        }

        if (quote != '\0')
        {
            problem = $"has an unclosed {quote} that opens at character {quoteStart + 1}";
            return null;
        }

        if (inWord)
        {
            words.Add(word.ToString());
        }

        problem = null;
        return words;
    }
}
