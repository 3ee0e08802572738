using System.Globalization;
using Eas.Node.LlmBench;

namespace Eas.Node.LlmSim;

/// <summary>Entry point: <c>dotnet LlmSim.dll --port N [options]</c> (see <see cref="SimOptions.Usage"/>).</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        SimOptions options;
        try
        {
            options = SimOptions.Parse(args);
        }
        catch (CliException ex)
        {
            await Console.Error.WriteLineAsync($"llm-sim: {ex.Message}");
            return 2;
        }

        if (options.Help)
        {
            Console.WriteLine(SimOptions.Usage);
            return 0;
        }

        await using var replica = new SimReplica(options);
        var app = SimServer.Build(replica);
        await app.StartAsync();
        var e = options.Engine;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"llm-sim {options.Name} serving \"{e.ModelName}\" on {string.Join(' ', app.Urls)}: batch {e.MaxNumSeqs}, step budget {e.MaxNumBatchedTokens} tokens, " +
            $"KV {e.TotalBlocks} blocks x {e.BlockSize} tokens, prefill {e.PrefillUsPerToken} us/token, decode {e.DecodeMsPerStep} ms/step (+{e.DecodeBatchFactor} per extra sequence)"));
        await app.WaitForShutdownAsync();
        await app.DisposeAsync();
        return 0;
    }
}
