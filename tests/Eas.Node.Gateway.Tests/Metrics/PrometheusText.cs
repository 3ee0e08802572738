using System.Globalization;

namespace Eas.Node.Gateway.Tests.Metrics;

/// <summary>A scrape in the Prometheus text format: every sample line by its series (name and labels as written).</summary>
public sealed class PrometheusText
{
    private PrometheusText(string text, IReadOnlyDictionary<string, double> samples)
    {
        Text = text;
        Samples = samples;
    }

    public string Text { get; }

    public IReadOnlyDictionary<string, double> Samples { get; }

    public static PrometheusText Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#'))
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            samples[line[..space]] = double.Parse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        return new PrometheusText(text, samples);
    }

    /// <summary>The value of a series, e.g. <c>eas_gateway_requests_total{service="echo",code="200"}</c>; fails the test when absent.</summary>
    public double this[string series] =>
        Samples.TryGetValue(series, out var value) ? value : throw new Xunit.Sdk.XunitException($"series {series} is not in the scrape:\n{Text}");

    /// <summary>The lines of <c># TYPE</c> declarations, e.g. "eas_gateway_requests_total counter".</summary>
    public IEnumerable<string> Types => Text.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l["# TYPE ".Length..]);
}
