using System.Globalization;

namespace Eas.Node.Gateway.Llm;

/// <summary>One successful scrape of an engine's <c>/metrics</c>, with the gateway's own count at that moment.</summary>
/// <param name="Waiting">Requests waiting in the engine (summed over its models); NaN when not reported.</param>
/// <param name="Running">Requests running in the engine; NaN when not reported.</param>
/// <param name="KvUsage">KV-cache usage 0-1 (the highest over its models); NaN when not reported.</param>
/// <param name="CacheTokens">KV-cache size in tokens from <c>cache_config_info</c>; 0 when not reported.</param>
/// <param name="Timestamp">When the scrape finished (<see cref="TimeProvider.GetTimestamp"/>).</param>
/// <param name="InFlightAtScrape">The gateway's requests in flight to the replica when the scrape finished.</param>
internal sealed record EngineSnapshot(double Waiting, double Running, double KvUsage, long CacheTokens, long Timestamp, int InFlightAtScrape);

/// <summary>
/// Reads the engine gauges that routing uses from Prometheus text, line by line: vLLM's
/// <c>vllm:num_requests_waiting</c>, <c>vllm:num_requests_running</c>, <c>vllm:kv_cache_usage_perc</c> (V0:
/// <c>vllm:gpu_cache_usage_perc</c>) and <c>vllm:cache_config_info{block_size,num_gpu_blocks}</c>; SGLang's
/// <c>sglang:num_queue_reqs</c>, <c>sglang:num_running_reqs</c>, <c>sglang:token_usage</c>,
/// <c>sglang:cache_config_info{page_size,num_pages}</c> and <c>sglang:max_total_num_tokens</c>.
/// </summary>
internal struct EngineMetricsReader
{
    public EngineMetricsReader()
    {
    }

    public double Waiting { get; private set; } = double.NaN;

    public double Running { get; private set; } = double.NaN;

    public double KvUsage { get; private set; } = double.NaN;

    public long CacheTokens { get; private set; }

    /// <summary>Parses a whole exposition (tests, small bodies).</summary>
    public static EngineMetricsReader Parse(ReadOnlySpan<byte> text)
    {
        var reader = new EngineMetricsReader();
        while (!text.IsEmpty)
        {
            var end = text.IndexOf((byte)'\n');
            var line = end < 0 ? text : text[..end];
            reader.AddLine(line);
            text = end < 0 ? default : text[(end + 1)..];
        }

        return reader;
    }

    /// <summary>Takes one line of the exposition (without its newline).</summary>
    public void AddLine(ReadOnlySpan<byte> line)
    {
        line = line.Trim((byte)' ').TrimEnd((byte)'\r');
        if (line.IsEmpty || line[0] == (byte)'#')
        {
            return;
        }

        var nameEnd = line.IndexOfAny((byte)'{', (byte)' ');
        if (nameEnd <= 0)
        {
            return;
        }

        var name = line[..nameEnd];
        var kind = Classify(name);
        if (kind == Kind.None)
        {
            return;
        }

        var rest = line[nameEnd..];
        ReadOnlySpan<byte> labels = default;
        if (rest[0] == (byte)'{')
        {
            var close = LabelsEnd(rest);
            if (close < 0)
            {
                return;
            }

            labels = rest[1..close];
            rest = rest[(close + 1)..];
        }

        rest = rest.TrimStart((byte)' ');
        var valueEnd = rest.IndexOf((byte)' ');
        var valueText = valueEnd < 0 ? rest : rest[..valueEnd];
        if (!TryParseValue(valueText, out var value))
        {
            return;
        }

        switch (kind)
        {
            case Kind.Waiting:
                Waiting = Sum(Waiting, value);
                break;
            case Kind.Running:
                Running = Sum(Running, value);
                break;
            case Kind.KvUsage:
                if (double.IsFinite(value) && (double.IsNaN(KvUsage) || value > KvUsage))
                {
                    KvUsage = value;
                }

                break;
            case Kind.CacheInfo:
                var blockSize = Label(labels, "block_size"u8) ?? Label(labels, "page_size"u8);
                var blocks = Label(labels, "num_gpu_blocks"u8) ?? Label(labels, "num_pages"u8);
                if (blockSize > 0 && blocks > 0)
                {
                    CacheTokens = Math.Max(CacheTokens, blockSize.Value * blocks.Value);
                }

                break;
            case Kind.MaxTokens:
                if (double.IsFinite(value) && value >= 1)
                {
                    CacheTokens = Math.Max(CacheTokens, (long)value);
                }

                break;
            default:
                break;
        }
    }

    private static double Sum(double current, double value) =>
        !double.IsFinite(value) ? current : double.IsNaN(current) ? value : current + value;

    private static Kind Classify(ReadOnlySpan<byte> name)
    {
        if (name.SequenceEqual("vllm:num_requests_waiting"u8) || name.SequenceEqual("sglang:num_queue_reqs"u8))
        {
            return Kind.Waiting;
        }

        if (name.SequenceEqual("vllm:num_requests_running"u8) || name.SequenceEqual("sglang:num_running_reqs"u8))
        {
            return Kind.Running;
        }

        if (name.SequenceEqual("vllm:kv_cache_usage_perc"u8) || name.SequenceEqual("vllm:gpu_cache_usage_perc"u8) || name.SequenceEqual("sglang:token_usage"u8))
        {
            return Kind.KvUsage;
        }

        if (name.SequenceEqual("vllm:cache_config_info"u8) || name.SequenceEqual("sglang:cache_config_info"u8))
        {
            return Kind.CacheInfo;
        }

        return name.SequenceEqual("sglang:max_total_num_tokens"u8) ? Kind.MaxTokens : Kind.None;
    }

    // The index of the '}' closing the label set; label values are quoted and may hold '}' or escaped quotes.
    private static int LabelsEnd(ReadOnlySpan<byte> rest)
    {
        var quoted = false;
        for (var i = 1; i < rest.Length; i++)
        {
            var c = rest[i];
            if (quoted)
            {
                if (c == (byte)'\\')
                {
                    i++;
                }
                else if (c == (byte)'"')
                {
                    quoted = false;
                }
            }
            else if (c == (byte)'"')
            {
                quoted = true;
            }
            else if (c == (byte)'}')
            {
                return i;
            }
        }

        return -1;
    }

    // The whole-number value of label `key` (e.g. block_size="16"), or null.
    private static long? Label(ReadOnlySpan<byte> labels, ReadOnlySpan<byte> key)
    {
        while (!labels.IsEmpty)
        {
            labels = labels.TrimStart((byte)' ').TrimStart((byte)',').TrimStart((byte)' ');
            var eq = labels.IndexOf((byte)'=');
            if (eq <= 0 || eq + 1 >= labels.Length || labels[eq + 1] != (byte)'"')
            {
                return null;
            }

            var labelName = labels[..eq].Trim((byte)' ');
            var valueStart = eq + 2;
            var valueLength = labels[valueStart..].IndexOf((byte)'"');
            if (valueLength < 0)
            {
                return null;
            }

            var value = labels.Slice(valueStart, valueLength);
            if (labelName.SequenceEqual(key))
            {
                return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : null;
            }

            labels = labels[(valueStart + valueLength + 1)..];
        }

        return null;
    }

    private static bool TryParseValue(ReadOnlySpan<byte> text, out double value)
    {
        if (text.SequenceEqual("+Inf"u8))
        {
            value = double.PositiveInfinity;
            return true;
        }

        if (text.SequenceEqual("-Inf"u8))
        {
            value = double.NegativeInfinity;
            return true;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    private enum Kind
    {
        None,
        Waiting,
        Running,
        KvUsage,
        CacheInfo,
        MaxTokens,
    }
}
