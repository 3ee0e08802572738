using Eas.Node.Contracts.V1;

namespace Eas.Node.Gateway.Records;

/// <summary>
/// Where one service's call records go (EAS <c>sinker</c>, from <c>ServiceRoute.sinker</c>). Build it once per routing
/// table with <see cref="From"/> and keep it with the service; it is immutable.
/// </summary>
/// <param name="Type"><see cref="File"/> or <see cref="Otlp"/>.</param>
/// <param name="OtlpEndpoint">
/// For <see cref="Otlp"/>: the collector's OTLP/HTTP URL. A URL whose path ends in <c>/v1/logs</c> is used as it is;
/// otherwise <c>/v1/logs</c> is appended (so <c>http://host:4318</c> posts to <c>http://host:4318/v1/logs</c>).
/// </param>
/// <param name="MaxBodyBytes">Bodies are kept up to this many bytes each; 0 uses <see cref="CallRecordOptions.MaxBodyBytes"/>.</param>
public sealed record SinkerSettings(string Type, string OtlpEndpoint = "", int MaxBodyBytes = 0)
{
    /// <summary>The rotating JSON Lines file sink.</summary>
    public const string File = "file";

    /// <summary>The OpenTelemetry logs (OTLP/HTTP protobuf) sink.</summary>
    public const string Otlp = "otlp";

    /// <summary>The settings of a service's <c>sinker</c>, or null when the service keeps no records.</summary>
    public static SinkerSettings? From(Sinker? sinker) =>
        sinker is null || string.IsNullOrEmpty(sinker.Type)
            ? null
            : new SinkerSettings(sinker.Type.ToLowerInvariant(), sinker.OtlpEndpoint ?? "", Math.Max(0, sinker.MaxBodyBytes));

    /// <summary>The URL the OTLP sink posts to, or null when <see cref="OtlpEndpoint"/> is not an http(s) URL.</summary>
    public Uri? OtlpLogsUri()
    {
        if (!Uri.TryCreate(OtlpEndpoint, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            return null;
        }

        const string LogsPath = "/v1/logs";
        if (uri.AbsolutePath.EndsWith(LogsPath, StringComparison.Ordinal))
        {
            return uri;
        }

        var builder = new UriBuilder(uri) { Path = uri.AbsolutePath.TrimEnd('/') + LogsPath };
        return builder.Uri;
    }
}
