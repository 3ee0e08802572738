using System.Globalization;
using Eas.Node.LlmBench;

namespace Eas.Node.LlmLoad;

/// <summary>llm-load's command line.</summary>
public sealed record LoadOptions
{
    public const string Usage = """
        llm-load: open-loop (Poisson) workload generator for OpenAI-style LLM endpoints.

        usage: dotnet LlmLoad.dll --url BASE [--url BASE ...] [options]

        target
          --url BASE                    base URL; requests go to BASE/v1/completions or BASE/v1/chat/completions,
                                        e.g. http://127.0.0.1:8080/api/predict/llm (repeat, or comma-separate)
          --client-lb rr|least|random|affinity
                                        how requests spread over several --url (default rr); affinity sends a
                                        prefix (or a chat session) always to the same URL: an oracle baseline
          --token T                     Authorization header value (EAS service token)
          --model NAME                  "model" in every request (default sim-llm)
          --api completions|chat        default: chat for multi-turn, completions otherwise
          --no-stream                   non-streaming requests (TTFT is then the whole response)
        workload
          --workload shared-prefix|zipf|single-prefix|multi-turn   (default shared-prefix)
          --rate R                      requests per second, Poisson arrivals (default 8); multi-turn: new
                                        sessions arrive at R / turns per second
          --duration S                  seconds of arrivals (default 60); then in-flight requests drain
          --requests N                  stop after N requests (with or without --duration)
          --warmup F                    fraction of the expected requests left out of the statistics (default 0.1)
          --prewarm                     before the run, send each prefix once (max_tokens 1, 4 at a time,
                                        through the same URLs and --client-lb); not measured
          --prefixes P                  distinct system prefixes (default 64; single-prefix: 1)
          --prefix-tokens N             words per prefix (default 1024)
          --suffix-tokens N             unique words per request, or per chat turn (default 64)
          --output-tokens N             max_tokens of every request (default 32)
          --zipf-s S                    prefix popularity exponent for zipf (default 1.1)
          --turns N                     multi-turn: turns per session (default 4)
          --think-min S / --think-max S multi-turn: pause between a reply and the next turn (default 1 / 3)
          --session-header NAME         multi-turn: send the session id in this header (e.g. x-session-id)
          --seed N                      workload seed (default 1)
        run
          --timeout S                   per request (default 300)
          --drain S                     wait for in-flight requests after the arrivals (default 120)
          --replica-metrics URL,...     replicas' base (or /metrics) URLs: prefix-cache hit rate from their
                                        vllm:prefix_cache_hits_total / queries_total over the measured window
          --json FILE                   write the report as JSON
          --label TEXT                  run label in the report
          --quiet                       no progress lines
          --help                        this text
        """;

    private static readonly string[] _valueOptions =
    [
        "--url", "--client-lb", "--token", "--model", "--api", "--workload", "--rate", "--duration", "--requests",
        "--warmup", "--prefixes", "--prefix-tokens", "--suffix-tokens", "--output-tokens", "--zipf-s", "--turns",
        "--think-min", "--think-max", "--session-header", "--seed", "--timeout", "--drain", "--replica-metrics",
        "--json", "--label",
    ];

    public IReadOnlyList<string> Urls { get; init; } = [];

    public string ClientLb { get; init; } = "rr";

    public string? Token { get; init; }

    public string Model { get; init; } = "sim-llm";

    public bool Chat { get; init; }

    public bool Stream { get; init; } = true;

    public string Workload { get; init; } = "shared-prefix";

    public double Rate { get; init; } = 8;

    /// <summary>Seconds of arrivals; null when only --requests bounds the run.</summary>
    public double? Duration { get; init; } = 60;

    public int? Requests { get; init; }

    public double Warmup { get; init; } = 0.1;

    public int Prefixes { get; init; } = 64;

    public int PrefixTokens { get; init; } = 1024;

    public int SuffixTokens { get; init; } = 64;

    public int OutputTokens { get; init; } = 32;

    public double ZipfS { get; init; } = 1.1;

    public int Turns { get; init; } = 4;

    public double ThinkMin { get; init; } = 1;

    public double ThinkMax { get; init; } = 3;

    public string? SessionHeader { get; init; }

    public int Seed { get; init; } = 1;

    public double Timeout { get; init; } = 300;

    public double Drain { get; init; } = 120;

    public IReadOnlyList<string> ReplicaMetrics { get; init; } = [];

    public string? JsonFile { get; init; }

    public string? Label { get; init; }

    public bool Quiet { get; init; }

    public bool Prewarm { get; init; }

    public bool Help { get; init; }

    public bool MultiTurn => Workload == "multi-turn";

    /// <summary>Requests expected from the options (for the warm-up cut).</summary>
    public int ExpectedRequests
    {
        get
        {
            var byTime = Duration is { } d ? (int)Math.Round(Rate * d) : int.MaxValue;
            return Math.Min(byTime, Requests ?? int.MaxValue);
        }
    }

    /// <summary>Parses the command line; throws <see cref="CliException"/> naming the bad option.</summary>
    public static LoadOptions Parse(IReadOnlyList<string> args)
    {
        var a = CliArgs.Parse(args, _valueOptions, ["--help", "--no-stream", "--quiet", "--prewarm"]);
        if (a.Has("--help"))
        {
            return new LoadOptions { Help = true };
        }

        var urls = a.GetList("--url").Select(u => u.TrimEnd('/')).ToList();
        if (urls.Count == 0)
        {
            throw new CliException("--url: missing; give the base URL, e.g. --url http://127.0.0.1:8080/api/predict/llm");
        }

        foreach (var u in urls)
        {
            if (!Uri.TryCreate(u, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
            {
                throw new CliException($"--url: \"{u}\" is not an http(s) URL; write e.g. --url http://127.0.0.1:8000");
            }
        }

        var workload = a.GetChoice("--workload", "shared-prefix", "shared-prefix", "zipf", "single-prefix", "multi-turn");
        var api = a.GetChoice("--api", workload == "multi-turn" ? "chat" : "completions", "completions", "chat");
        if (workload == "multi-turn" && api != "chat")
        {
            throw new CliException("--api: multi-turn sends whole conversations, so it needs --api chat (the default for it); drop --api completions");
        }

        double? duration = a.Has("--duration") || !a.Has("--requests") ? a.GetDouble("--duration", 60, 0.1, 86400) : null;
        int? requests = a.Has("--requests") ? a.GetInt("--requests", 100, 1, int.MaxValue) : null;
        var prefixes = a.GetInt("--prefixes", workload == "single-prefix" ? 1 : 64, 1, 1_000_000);
        if (workload == "single-prefix" && prefixes != 1)
        {
            throw new CliException($"--prefixes: single-prefix uses exactly one prefix, not {prefixes}; drop --prefixes or use --workload shared-prefix");
        }

        var thinkMin = a.GetDouble("--think-min", 1, 0, 3600);
        var thinkMax = a.GetDouble("--think-max", Math.Max(3, thinkMin), 0, 3600);
        if (thinkMax < thinkMin)
        {
            throw new CliException($"--think-max: {thinkMax.ToString(CultureInfo.InvariantCulture)} is below --think-min {thinkMin.ToString(CultureInfo.InvariantCulture)}; give --think-max >= --think-min");
        }

        var sessionHeader = a.GetString("--session-header");
        if (sessionHeader is not null && (sessionHeader.Length == 0 || sessionHeader.Any(c => c <= ' ' || c == ':' || c > '~')))
        {
            throw new CliException($"--session-header: \"{sessionHeader}\" is not a header name; write e.g. --session-header x-session-id");
        }

        return new LoadOptions
        {
            Urls = urls,
            ClientLb = a.GetChoice("--client-lb", "rr", "rr", "least", "random", "affinity"),
            Token = a.GetString("--token"),
            Model = a.GetString("--model", "sim-llm"),
            Chat = api == "chat",
            Stream = !a.Has("--no-stream"),
            Workload = workload,
            Rate = a.GetDouble("--rate", 8, 0.001, 100_000),
            Duration = duration,
            Requests = requests,
            Warmup = a.GetDouble("--warmup", 0.1, 0, 0.9),
            Prefixes = prefixes,
            PrefixTokens = a.GetInt("--prefix-tokens", 1024, 0, 1_000_000),
            SuffixTokens = a.GetInt("--suffix-tokens", 64, 1, 1_000_000),
            OutputTokens = a.GetInt("--output-tokens", 32, 1, 1_000_000),
            ZipfS = a.GetDouble("--zipf-s", 1.1, 0, 10),
            Turns = a.GetInt("--turns", 4, 1, 1000),
            ThinkMin = thinkMin,
            ThinkMax = thinkMax,
            SessionHeader = sessionHeader,
            Seed = a.GetInt("--seed", 1, int.MinValue, int.MaxValue),
            Timeout = a.GetDouble("--timeout", 300, 0.1, 86400),
            Drain = a.GetDouble("--drain", 120, 0, 86400),
            ReplicaMetrics = a.GetList("--replica-metrics"),
            JsonFile = a.GetString("--json"),
            Label = a.GetString("--label"),
            Quiet = a.Has("--quiet"),
            Prewarm = a.Has("--prewarm"),
        };
    }
}
