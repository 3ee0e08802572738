using System.Text.Json;

namespace Eas.Node.LlmSim;

/// <summary>An OpenAI-style error the API answers with (body: <c>{"error": {...}}</c>).</summary>
public sealed record ApiError(int Status, string Message, string? Param = null)
{
    public string Type => Status switch
    {
        404 => "NotFoundError",
        503 => "ServiceUnavailableError",
        _ => "BadRequestError",
    };
}

/// <summary>A parsed /v1/completions or /v1/chat/completions request.</summary>
public sealed record OpenAiRequest(bool Chat, bool Stream, bool IncludeUsage, int MaxTokens, List<ulong> PromptTokens);

/// <summary>Reads the fields llm-sim acts on; everything else (temperature, stop, ...) is accepted and ignored.</summary>
public static class OpenAiRequestParser
{
    /// <summary>Parses <paramref name="root"/>; exactly one of the results is non-null.</summary>
    public static (OpenAiRequest? Request, ApiError? Error) Parse(JsonElement root, bool chat, SimOptions options)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return (null, new ApiError(400, chat
                ? "request body: not a JSON object; send {\"model\": \"...\", \"messages\": [{\"role\": \"user\", \"content\": \"...\"}]}"
                : "request body: not a JSON object; send {\"model\": \"...\", \"prompt\": \"...\"}"));
        }

        var served = options.Engine.ModelName;
        if (root.TryGetProperty("model", out var model) && model.ValueKind != JsonValueKind.Null)
        {
            if (model.ValueKind != JsonValueKind.String || model.GetString() != served)
            {
                return (null, new ApiError(404,
                    $"model: \"{model}\" does not exist here; this replica serves \"{served}\"; send \"model\": \"{served}\" (or start llm-sim with --served-model-name)", "model"));
            }
        }

        if (root.TryGetProperty("n", out var n) && n.ValueKind == JsonValueKind.Number && (!n.TryGetInt32(out var nv) || nv != 1))
        {
            return (null, new ApiError(400, "n: llm-sim generates one choice per request; send \"n\": 1 or leave it out", "n"));
        }

        List<ulong> tokens;
        if (chat)
        {
            var (t, err) = ChatTokens(root);
            if (err is not null)
            {
                return (null, err);
            }

            tokens = t!;
        }
        else
        {
            var (t, err) = PromptTokens(root);
            if (err is not null)
            {
                return (null, err);
            }

            tokens = t!;
        }

        var maxTokens = options.DefaultOutputTokens;
        foreach (var name in chat ? new[] { "max_completion_tokens", "max_tokens" } : ["max_tokens"])
        {
            if (!root.TryGetProperty(name, out var mt) || mt.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            if (mt.ValueKind != JsonValueKind.Number || !mt.TryGetInt32(out maxTokens) || maxTokens < 1)
            {
                return (null, new ApiError(400, $"{name}: {mt} is not a positive whole number; send e.g. \"{name}\": 128", name));
            }

            break;
        }

        if (tokens.Count + maxTokens > options.MaxModelLen)
        {
            return (null, new ApiError(400,
                $"This model's maximum context length is {options.MaxModelLen} tokens. However, you requested {tokens.Count + maxTokens} tokens ({tokens.Count} in the {(chat ? "messages" : "prompt")}, {maxTokens} in the completion). Please reduce the length of the {(chat ? "messages" : "prompt")} or max_tokens (or start llm-sim with a larger --max-model-len).",
                chat ? "messages" : "prompt"));
        }

        var stream = root.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
        var includeUsage = root.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object
            && so.TryGetProperty("include_usage", out var iu) && iu.ValueKind == JsonValueKind.True;
        return (new OpenAiRequest(chat, stream, includeUsage, maxTokens, tokens), null);
    }

    private static (List<ulong>?, ApiError?) PromptTokens(JsonElement root)
    {
        if (!root.TryGetProperty("prompt", out var prompt))
        {
            return (null, new ApiError(400, "prompt: missing; send \"prompt\": \"text\"", "prompt"));
        }

        string? text = prompt.ValueKind switch
        {
            JsonValueKind.String => prompt.GetString(),
            JsonValueKind.Array when prompt.GetArrayLength() == 1 && prompt[0].ValueKind == JsonValueKind.String => prompt[0].GetString(),
            _ => null,
        };
        if (text is null)
        {
            return (null, new ApiError(400, "prompt: llm-sim takes one string (or an array of one string); send \"prompt\": \"text\"", "prompt"));
        }

        var tokens = Tokenizer.Prompt(text);
        if (tokens.Count == 0)
        {
            return (null, new ApiError(400, "prompt: has no words; send at least one word", "prompt"));
        }

        return (tokens, null);
    }

    private static (List<ulong>?, ApiError?) ChatTokens(JsonElement root)
    {
        if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
        {
            return (null, new ApiError(400, "messages: missing or empty; send \"messages\": [{\"role\": \"user\", \"content\": \"...\"}]", "messages"));
        }

        var list = new List<(string, string)>();
        var i = 0;
        foreach (var m in messages.EnumerateArray())
        {
            if (m.ValueKind != JsonValueKind.Object || !m.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
            {
                return (null, new ApiError(400, $"messages[{i}].role: missing; each message is {{\"role\": \"system|user|assistant\", \"content\": \"...\"}}", $"messages[{i}].role"));
            }

            var content = "";
            if (m.TryGetProperty("content", out var c))
            {
                switch (c.ValueKind)
                {
                    case JsonValueKind.String:
                        content = c.GetString()!;
                        break;
                    case JsonValueKind.Array:
                        content = string.Join(' ', c.EnumerateArray()
                            .Where(p => p.ValueKind == JsonValueKind.Object && p.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
                            .Select(p => p.GetProperty("text").GetString()));
                        break;
                    case JsonValueKind.Null:
                        break;
                    default:
                        return (null, new ApiError(400, $"messages[{i}].content: not a string or an array of text parts; send \"content\": \"...\"", $"messages[{i}].content"));
                }
            }

            list.Add((role.GetString()!, content));
            i++;
        }

        return (Tokenizer.Chat(list), null);
    }
}
