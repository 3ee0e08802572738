using System.Runtime.CompilerServices;
using Eas.Node.Contracts.V1;
using Google.Protobuf;

namespace Eas.Node.Gateway.Feed;

/// <summary>
/// A fixed routing table read from a JSON file holding one <see cref="EndpointSnapshot"/> in protobuf JSON form
/// (<c>{"services":[{"name":"echo","tokenSha256":"&lt;base64&gt;","keepaliveMs":5000,"endpoints":[{"address":"127.0.0.1:8000"}]}]}</c>).
/// Used for benchmarks and offline use, where no coordinator runs.
/// </summary>
internal sealed class StaticRoutesFeed(string path) : IEndpointFeed
{
    private static readonly JsonParser _parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(false));

    public static EndpointSnapshot Load(string path) => _parser.Parse<EndpointSnapshot>(File.ReadAllText(path));

    public async IAsyncEnumerable<EndpointSnapshot> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        yield return Load(path);
        await Task.Delay(Timeout.Infinite, cancellationToken);
    }
}
