using Microsoft.Extensions.Options;

namespace Eas.Node.Coordinator.Hosting;

/// <summary>
/// The URL users call: <see cref="CoordinatorOptions.PublicEndpoint"/> when set, otherwise the embedded
/// gateway's bound address (so a port 0 listen shows the real port), otherwise <see cref="CoordinatorOptions.GatewayListen"/>.
/// </summary>
public sealed class PublicEndpoint(IOptions<CoordinatorOptions> options, EmbeddedGatewayService? gateway = null)
{
    /// <summary>The base URL without a trailing slash; endpoints are <c>{Value}/api/predict/{name}</c>.</summary>
    public string Value =>
        string.IsNullOrWhiteSpace(options.Value.PublicEndpoint) && gateway?.Urls.FirstOrDefault() is { } bound
            ? bound.TrimEnd('/')
            : options.Value.EffectivePublicEndpoint;
}
