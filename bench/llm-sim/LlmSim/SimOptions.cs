using System.Globalization;
using System.Net;
using Eas.Node.LlmBench;

namespace Eas.Node.LlmSim;

/// <summary>llm-sim's command line.</summary>
public sealed record SimOptions
{
    public const string Usage = """
        llm-sim: a simulated LLM engine (one replica) speaking the OpenAI API, for gateway tests and benchmarks.

        usage: dotnet LlmSim.dll [--port N] [options]

        server
          --port N                      listen port (default: $PORT, else 8000)
          --host ADDR                   listen address (default 0.0.0.0; 127.0.0.1 for loopback only)
          --name NAME                   replica name in x-llm-sim-replica and every response
                                        (default: $EAS_INSTANCE_ID, else sim-PORT)
          --served-model-name NAME      model id to accept and report (default sim-llm)
          --max-model-len N             prompt + max_tokens limit, tokens (default 8192)
          --output-tokens N             output length when a request has no max_tokens (default 128)
          --max-waiting N               answer 503 while N requests wait (default 0 = never)
          --stream-interval N           send (flush) SSE events every N tokens; the first and the last
                                        token always go at once (default 1 = every token, like vLLM)
        engine model (see README.md)
          --max-num-seqs N              requests in one batch (default 16)
          --max-num-batched-tokens N    tokens per step: decodes + prefill chunks (default 2048)
          --block-size N                tokens per KV block (default 16)
          --kv-cache-tokens N           KV-cache capacity per replica, tokens (default 32768)
          --prefill-us-per-token X      prefill time per uncached prompt token, microseconds (default 400)
          --decode-ms-per-step X        decode step with one sequence, milliseconds (default 25)
          --decode-batch-factor X       +X of a step per further decoding sequence (default 0.02)
          --slowdown X                  multiply every step (fault injection; default 1)
          --seed N                      output-word seed (default 0)
          --help                        this text

        endpoints: POST /v1/completions, POST /v1/chat/completions (stream or not), GET /v1/models,
        GET /health, GET /metrics (vLLM names), GET /sim/state, POST /sim/fault (JSON: slowdown,
        health_fail, metrics_hang).
        """;

    private static readonly string[] _valueOptions =
    [
        "--port", "--host", "--name", "--served-model-name", "--max-model-len", "--output-tokens", "--max-waiting",
        "--max-num-seqs", "--max-num-batched-tokens", "--block-size", "--kv-cache-tokens", "--prefill-us-per-token",
        "--decode-ms-per-step", "--decode-batch-factor", "--slowdown", "--seed", "--stream-interval",
    ];

    public int Port { get; init; } = 8000;

    public string Host { get; init; } = "0.0.0.0";

    public string Name { get; init; } = "sim-8000";

    public int MaxModelLen { get; init; } = 8192;

    public int DefaultOutputTokens { get; init; } = 128;

    public int MaxWaiting { get; init; }

    /// <summary>Tokens per flush of a stream (the first and last token are flushed at once).</summary>
    public int StreamInterval { get; init; } = 1;

    public double Slowdown { get; init; } = 1;

    public ulong Seed { get; init; }

    public EngineConfig Engine { get; init; } = new();

    public bool Help { get; init; }

    /// <summary>Parses the command line (and $PORT, $EAS_INSTANCE_ID); throws <see cref="CliException"/> naming the bad option.</summary>
    public static SimOptions Parse(IReadOnlyList<string> args, Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        var a = CliArgs.Parse(args, _valueOptions, ["--help"]);
        if (a.Has("--help"))
        {
            return new SimOptions { Help = true };
        }

        var envPort = env("PORT");
        var defaultPort = 8000;
        if (!string.IsNullOrEmpty(envPort) && !a.Has("--port"))
        {
            if (!int.TryParse(envPort, NumberStyles.Integer, CultureInfo.InvariantCulture, out defaultPort) || defaultPort is < 1 or > 65535)
            {
                throw new CliException($"$PORT: \"{envPort}\" is not a port (1..65535); set PORT to a port number or pass --port N");
            }
        }

        var port = a.GetInt("--port", defaultPort, 0, 65535);
        var host = a.GetString("--host", "0.0.0.0");
        if (!IPAddress.TryParse(host, out _))
        {
            throw new CliException($"--host: \"{host}\" is not an IP address; write e.g. --host 127.0.0.1 or --host 0.0.0.0");
        }

        var name = a.GetString("--name") ?? NonEmpty(env("EAS_INSTANCE_ID")) ?? $"sim-{port}";
        var d = new EngineConfig();
        var engine = new EngineConfig
        {
            ModelName = a.GetString("--served-model-name", d.ModelName),
            MaxNumSeqs = a.GetInt("--max-num-seqs", d.MaxNumSeqs, 1, 4096),
            MaxNumBatchedTokens = a.GetInt("--max-num-batched-tokens", d.MaxNumBatchedTokens, 1, 1 << 20),
            BlockSize = a.GetInt("--block-size", d.BlockSize, 1, 1024),
            KvCacheTokens = a.GetInt("--kv-cache-tokens", d.KvCacheTokens, 1, 1 << 26),
            PrefillUsPerToken = a.GetDouble("--prefill-us-per-token", d.PrefillUsPerToken, 0, 1e6),
            DecodeMsPerStep = a.GetDouble("--decode-ms-per-step", d.DecodeMsPerStep, 0, 1e5),
            DecodeBatchFactor = a.GetDouble("--decode-batch-factor", d.DecodeBatchFactor, 0, 100),
        };
        if (engine.TotalBlocks < 1)
        {
            throw new CliException($"--kv-cache-tokens: {engine.KvCacheTokens} is less than one block of --block-size {engine.BlockSize}; raise --kv-cache-tokens");
        }

        var maxModelLen = a.GetInt("--max-model-len", 8192, 2, 1 << 26);
        var capacity = engine.TotalBlocks * engine.BlockSize;
        if (maxModelLen > capacity)
        {
            throw new CliException(
                $"--max-model-len: {maxModelLen} tokens do not fit the KV cache ({capacity} tokens = --kv-cache-tokens rounded to --block-size), so such a request could never run; lower --max-model-len or raise --kv-cache-tokens");
        }

        var seed = a.GetString("--seed");
        ulong seedValue = 0;
        if (seed is not null && !ulong.TryParse(seed, NumberStyles.Integer, CultureInfo.InvariantCulture, out seedValue))
        {
            throw new CliException($"--seed: \"{seed}\" is not a non-negative whole number; write e.g. --seed 1");
        }

        return new SimOptions
        {
            Port = port,
            Host = host,
            Name = name,
            MaxModelLen = maxModelLen,
            DefaultOutputTokens = a.GetInt("--output-tokens", 128, 1, 1 << 20),
            MaxWaiting = a.GetInt("--max-waiting", 0, 0, int.MaxValue),
            StreamInterval = a.GetInt("--stream-interval", 1, 1, 1 << 20),
            Slowdown = a.GetDouble("--slowdown", 1, 0.001, 1000),
            Seed = seedValue,
            Engine = engine,
        };
    }

    private static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;
}
