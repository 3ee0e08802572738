using Microsoft.Extensions.Options;

namespace Eas.Node.Coordinator.Hosting;

/// <summary>Checks every <see cref="CoordinatorOptions"/> value; each failure names the key, the rule and the fix.</summary>
public sealed class CoordinatorOptionsValidator : IValidateOptions<CoordinatorOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, CoordinatorOptions options)
    {
        var errors = Check(options);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Every problem in <paramref name="options"/>, one line each: "Coordinator:Key: rule; fix".</summary>
    public static IReadOnlyList<string> Check(CoordinatorOptions options)
    {
        var errors = new List<string>();
        CheckUrl(errors, nameof(CoordinatorOptions.Listen), options.Listen, required: true);
        CheckUrl(errors, nameof(CoordinatorOptions.GatewayListen), options.GatewayListen, required: true);
        CheckUrl(errors, nameof(CoordinatorOptions.PublicEndpoint), options.PublicEndpoint, required: false);
        foreach (var url in (options.MetricsListen ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp)
            {
                errors.Add($"Coordinator:MetricsListen: '{url}' is not an http://HOST:PORT address; write it like http://127.0.0.1:9190 (http://0.0.0.0:9190 for a remote scraper), or \"\" to turn metrics off");
            }
        }

        if (string.IsNullOrWhiteSpace(options.DataDir) || !Path.IsPathFullyQualified(options.DataDir))
        {
            errors.Add($"Coordinator:DataDir: '{options.DataDir}' must be an absolute path; set it to a folder such as /var/lib/eas/coordinator");
        }

        if (!string.IsNullOrWhiteSpace(options.RecordsDirectory) && !Path.IsPathFullyQualified(options.RecordsDirectory))
        {
            errors.Add($"Coordinator:RecordsDirectory: '{options.RecordsDirectory}' must be an absolute path; set it to a folder such as /var/lib/eas/records, or \"\" for <DataDir>/records");
        }

        if (!string.IsNullOrWhiteSpace(options.TracingOtlpEndpoint)
            && (!Uri.TryCreate(options.TracingOtlpEndpoint, UriKind.Absolute, out var otlp) || (otlp.Scheme != Uri.UriSchemeHttp && otlp.Scheme != Uri.UriSchemeHttps)))
        {
            errors.Add($"Coordinator:TracingOtlpEndpoint: '{options.TracingOtlpEndpoint}' must be the absolute http:// or https:// URL of an OTLP/HTTP collector; set it to e.g. http://127.0.0.1:4318, or \"\" to send no spans");
        }

        if (options.NodeGraceSeconds is < 1 or > 3600)
        {
            errors.Add($"Coordinator:NodeGraceSeconds: {options.NodeGraceSeconds} must be between 1 and 3600; use a few heartbeats, e.g. 10");
        }

        if (options.HeartbeatSeconds is < 1 or > 600)
        {
            errors.Add($"Coordinator:HeartbeatSeconds: {options.HeartbeatSeconds} must be between 1 and 600; e.g. 2");
        }
        else if (options.HeartbeatSeconds >= options.NodeGraceSeconds)
        {
            errors.Add($"Coordinator:HeartbeatSeconds: {options.HeartbeatSeconds} must be less than NodeGraceSeconds ({options.NodeGraceSeconds}); lower it or raise NodeGraceSeconds");
        }

        if (options.DeregistrationDelaySeconds is < 0 or > 300)
        {
            errors.Add($"Coordinator:DeregistrationDelaySeconds: {options.DeregistrationDelaySeconds} must be between 0 and 300; e.g. 2 (long enough for every gateway to hear of a removed instance)");
        }

        if (options.RolloutProgressDeadlineSeconds is < 1 or > 86400)
        {
            errors.Add($"Coordinator:RolloutProgressDeadlineSeconds: {options.RolloutProgressDeadlineSeconds} must be between 1 and 86400; e.g. 120, more for models that load slowly");
        }

        if (options.MaxRequestBodyBytes is < 1 or > int.MaxValue)
        {
            errors.Add($"Coordinator:MaxRequestBodyBytes: {options.MaxRequestBodyBytes} must be between 1 and 2147483647 (the gateway's ceiling); e.g. 1048576");
        }

        return errors;
    }

    private static void CheckUrl(List<string> errors, string key, string value, bool required)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            if (required)
            {
                errors.Add($"Coordinator:{key}: must not be empty; set a URL such as http://127.0.0.1:9090");
            }

            return;
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            errors.Add($"Coordinator:{key}: '{value}' is not an http(s) URL; write it as http://HOST:PORT");
        }
    }
}
