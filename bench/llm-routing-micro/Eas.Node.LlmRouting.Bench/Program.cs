using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Eas.Node.Gateway.Llm;

namespace Eas.Node.LlmRouting.Bench;

/// <summary>
/// The LLM routing decision for a 16 KiB chat prompt over 4 replicas: prompt extraction (Utf8JsonReader), block
/// hashing, prefix-index lookup on every replica, scoring, index insert, and the lease's first byte and end. Two
/// measurements: BenchmarkDotNet (mean, allocations; a short in-process job) and a per-decision latency histogram
/// (p50/p90/p99/p99.9 of single decisions timed with Stopwatch), which is what the p99 ≤ 0.5 ms target is about.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var runBdn = !args.Contains("--latency-only");
        var runLatency = !args.Contains("--bdn-only");
        var decisions = IntArg(args, "--decisions", 200_000);
        var markdown = StringArg(args, "--markdown");
        var report = new StringBuilder();
        report.AppendLine("# LLM routing decision latency (bench/llm-routing-micro)").AppendLine();
        report.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} logical CPUs, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}.");
        report.AppendLine("Workload: chat bodies of 16 KiB (a 12 KiB system prompt, one of 64, plus a 4 KiB user turn), 4 replicas, 16 requests in flight, default settings (64-byte blocks, 16384-block index per replica).").AppendLine();

        if (runBdn)
        {
            var config = ManualConfig.CreateEmpty()
                .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance).WithId("short-inprocess"))
                .AddColumnProvider(DefaultColumnProviders.Instance)
                .AddColumn(StatisticColumn.P95)
                .AddDiagnoser(MemoryDiagnoser.Default)
                .AddLogger(ConsoleLogger.Default)
                .AddExporter(MarkdownExporter.GitHub)
                .WithArtifactsPath(Path.Combine(Path.GetTempPath(), "eas-llm-routing-bench"))
                .WithOptions(ConfigOptions.DisableLogFile);
            var summary = BenchmarkRunner.Run<DecisionBenchmarks>(config);
            report.AppendLine("## BenchmarkDotNet (ShortRun, in-process)").AppendLine();
            var table = Directory.GetFiles(summary.ResultsDirectoryPath, "*-report-github.md").FirstOrDefault();
            report.AppendLine(table is null ? "(no report)" : await File.ReadAllTextAsync(table)).AppendLine();
        }

        if (runLatency)
        {
            report.AppendLine("## Single-decision latency").AppendLine();
            report.AppendLine("| threads | decisions | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | fallbacks |");
            report.AppendLine("|---|---|---|---|---|---|---|---|");
            foreach (var threads in new[] { 1, 2 })
            {
                var line = await MeasureLatencyAsync(threads, decisions);
                Console.WriteLine(line);
                report.AppendLine(line);
            }
        }

        Console.WriteLine();
        Console.WriteLine(report.ToString());
        if (markdown is not null)
        {
            await File.WriteAllTextAsync(markdown, report.ToString());
            Console.WriteLine($"wrote {markdown}");
        }

        return 0;
    }

    /// <summary>Times each decision on its own; <paramref name="threads"/> workers share one router (lock contention included).</summary>
    private static async Task<string> MeasureLatencyAsync(int threads, int decisions)
    {
        var registry = Prometheus.Metrics.NewCustomRegistry();
        await using var router = new LlmRouter(new LlmRoutingOptions { ScrapeIntervalMs = 0 }, registry);
        var workload = new Workload();
        var perThread = decisions / threads;
        var samples = new long[threads][];
        var warm = new DecisionLoop(router, workload, 0);
        for (var i = 0; i < 20_000; i++)
        {
            warm.Step();
        }

        warm.Drain();
        var fallbacksBefore = Fallbacks(registry);
        var tasks = Enumerable.Range(0, threads).Select(t => Task.Factory.StartNew(
            () =>
            {
                var loop = new DecisionLoop(router, workload, t * 7919);
                var times = new long[perThread];
                for (var i = 0; i < perThread; i++)
                {
                    var start = Stopwatch.GetTimestamp();
                    loop.Step();
                    times[i] = Stopwatch.GetTimestamp() - start;
                }

                loop.Drain();
                samples[t] = times;
            },
            TaskCreationOptions.LongRunning)).ToArray();
        await Task.WhenAll(tasks);
        var all = samples.SelectMany(s => s).Order().ToArray();
        double Micros(double q) => all[Math.Min(all.Length - 1, (int)(q * all.Length))] * 1e6 / Stopwatch.Frequency;
        return string.Create(
            CultureInfo.InvariantCulture,
            $"| {threads} | {all.Length} | {Micros(0.5):F1} | {Micros(0.9):F1} | {Micros(0.99):F1} | {Micros(0.999):F1} | {all[^1] * 1e6 / Stopwatch.Frequency:F1} | {Fallbacks(registry) - fallbacksBefore} |");
    }

    private static double Fallbacks(Prometheus.CollectorRegistry registry)
    {
        using var stream = new MemoryStream();
        registry.CollectAndExportAsTextAsync(stream).GetAwaiter().GetResult();
        return Encoding.UTF8.GetString(stream.ToArray()).Split('\n')
            .Where(l => l.StartsWith("eas_gateway_llm_fallbacks_total{", StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }

    private static int IntArg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static string? StringArg(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}

/// <summary>Pre-built request bodies: 64 system prompts × 16 user turns, each body about 16 KiB.</summary>
public sealed class Workload
{
    private static readonly string[] _words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"];

    public Workload()
    {
        var systems = Enumerable.Range(0, 64).Select(i => Text(i, 12 * 1024)).ToArray();
        var bodies = new List<byte[]>();
        for (var turn = 0; turn < 16; turn++)
        {
            foreach (var system in systems)
            {
                bodies.Add(JsonSerializer.SerializeToUtf8Bytes(new
                {
                    model = "bench-model",
                    stream = true,
                    max_tokens = 128,
                    messages = new object[]
                    {
                        new { role = "system", content = system },
                        new { role = "user", content = Text(10_000 + bodies.Count, 4 * 1024) },
                    },
                }));
            }
        }

        Bodies = [.. bodies];
        Replicas = [.. Enumerable.Range(0, 4).Select(i => new LlmReplica($"replica-{i}", $"10.0.0.{i + 1}:8000"))];
    }

    public byte[][] Bodies { get; }

    public LlmReplica[] Replicas { get; }

    public static string Text(int seed, int bytes)
    {
        var builder = new StringBuilder(bytes + 16);
        var state = ((uint)seed * 2654435761u) + 1;
        while (builder.Length < bytes)
        {
            state = (state * 1103515245) + 12345;
            builder.Append(_words[(state >> 16) % (uint)_words.Length]).Append(' ');
        }

        return builder.ToString(0, bytes);
    }
}

/// <summary>One decision per step, with 16 requests kept in flight (each gets its first byte 4 steps later).</summary>
public sealed class DecisionLoop(LlmRouter router, Workload workload, int offset)
{
    private const int InFlight = 16;
    private const int PrefillSteps = 4;
    private readonly LlmLease?[] _open = new LlmLease?[InFlight];
    private int _step;

    public void Step()
    {
        var bodies = workload.Bodies;
        var body = bodies[(int)((uint)((_step + offset) * 40503) % (uint)bodies.Length)];
        var slot = _step % InFlight;
        _open[slot]?.Dispose();
        var pending = router.AcquireAsync("bench", workload.Replicas, body, null);

        // No replica is ever saturated here (no scrape, no in-flight cap), so the decision completes synchronously.
        var lease = pending.IsCompleted ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
        _open[slot] = lease;
        _open[(_step + InFlight - PrefillSteps) % InFlight]?.FirstByte();
        _step++;
    }

    public void Drain()
    {
        for (var i = 0; i < InFlight; i++)
        {
            _open[i]?.Dispose();
            _open[i] = null;
        }
    }
}

[MemoryDiagnoser]
public class DecisionBenchmarks : IAsyncDisposable
{
    private LlmRouter _router = null!;
    private Workload _workload = null!;
    private DecisionLoop _loop = null!;
    private ulong[] _hashes = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _router = new LlmRouter(new LlmRoutingOptions { ScrapeIntervalMs = 0 }, Prometheus.Metrics.NewCustomRegistry());
        _workload = new Workload();
        _loop = new DecisionLoop(_router, _workload, 0);
        _hashes = new ulong[1024];
        for (var i = 0; i < 20_000; i++)
        {
            _loop.Step();
        }
    }

    [GlobalCleanup]
    public async Task Cleanup() => await DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        _loop?.Drain();
        if (_router is not null)
        {
            await _router.DisposeAsync();
        }
    }

    /// <summary>The whole decision: extract, hash, look up on 4 replicas, score, insert, first byte, end of a lease.</summary>
    [Benchmark(Baseline = true)]
    public void Decide() => _loop.Step();

    /// <summary>Prompt extraction and block hashing alone.</summary>
    [Benchmark]
    public int ExtractAndHash()
    {
        var bodies = _workload.Bodies;
        var body = bodies[_next++ % bodies.Length];
        return LlmPromptParser.Parse(body, 64, _hashes).BlockCount;
    }
}
