using Eas.Node.LlmBench;

namespace Eas.Node.LlmLoad;

/// <summary>Entry point: <c>dotnet LlmLoad.dll --url BASE [options]</c> (see <see cref="LoadOptions.Usage"/>).</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        LoadOptions options;
        try
        {
            options = LoadOptions.Parse(args);
        }
        catch (CliException ex)
        {
            await Console.Error.WriteLineAsync($"llm-load: {ex.Message}");
            return 2;
        }

        if (options.Help)
        {
            Console.WriteLine(LoadOptions.Usage);
            return 0;
        }

        var report = await RunAsync(options, options.Quiet ? null : line => Console.Error.WriteLine($"llm-load: {line}"));
        Console.Write(report.ToText());
        if (options.JsonFile is not null)
        {
            await File.WriteAllTextAsync(options.JsonFile, report.ToJson());
        }

        return 0;
    }

    /// <summary>Runs the workload and builds its report.</summary>
    public static async Task<LoadReport> RunAsync(LoadOptions options, Action<string>? progress = null)
    {
        using var runner = new LoadRunner(options);
        using var scrapeClient = new HttpClient();
        var cpu = new CpuSampler();
        Task<Dictionary<string, double>?[]>? before = null;
        runner.OnWindowStart = () =>
        {
            cpu.Start(runner.Now);
            before = options.ReplicaMetrics.Count > 0 ? ReplicaMetrics.ScrapeAsync(scrapeClient, options.ReplicaMetrics) : null;
            return Task.CompletedTask;
        };

        if (options.Prewarm)
        {
            await runner.PrewarmAsync();
            progress?.Invoke($"prewarm: {options.Prefixes} prefixes in {runner.PrewarmSeconds:F1} s, {runner.PrewarmFailed} failed");
        }

        (double? Machine, double? Generator) cpuUse = (null, null);
        runner.OnWindowEnd = () => cpuUse = cpu.Stop(runner.Now);
        await runner.RunAsync(progress);
        (IReadOnlyList<ReplicaCache>? Caches, double? HitRate) cache = (null, null);
        if (before is not null)
        {
            var after = await ReplicaMetrics.ScrapeAsync(scrapeClient, options.ReplicaMetrics);
            cache = ReplicaMetrics.Delta(options.ReplicaMetrics, await before, after);
        }

        return ReportBuilder.Build(options, runner, cache, cpuUse);
    }
}
