using System.Collections.Concurrent;
using Eas.Node.Spec;

namespace Eas.Node.Coordinator.Store;

/// <summary>
/// Parsed specs by (service, version). Versions never change once stored, so a parsed spec is cached
/// for good; the store keeps only canonical JSON.
/// </summary>
public sealed class SpecCatalog(ICoordinatorStore store)
{
    private readonly ConcurrentDictionary<(string Service, int Version), ServiceSpec> _cache = new();

    /// <summary>The spec of one version, or null when that version is not stored.</summary>
    public async Task<ServiceSpec?> GetAsync(string service, int version, CancellationToken cancellationToken = default)
    {
        if (_cache.TryGetValue((service, version), out var cached))
        {
            return cached;
        }

        var record = await store.GetServiceVersionAsync(service, version, cancellationToken);
        if (record is null)
        {
            return null;
        }

        // Stored JSON was produced by SpecWriter from a valid spec, so it parses; a failure here means
        // the file was edited by hand or the parser changed its rules, which an operator must see.
        var result = SpecParser.Parse(record.SpecJson);
        if (!result.IsValid)
        {
            throw new InvalidOperationException(
                $"stored spec {service} v{version} no longer parses: {string.Join("; ", result.Errors)}");
        }

        return _cache.GetOrAdd((service, version), result.Spec!);
    }

    /// <summary>Remembers a spec that was just stored, so the next reader does not parse it again.</summary>
    public void Remember(string service, int version, ServiceSpec spec) => _cache[(service, version)] = spec;

    /// <summary>Forgets every version of a deleted service (a new service may reuse the name).</summary>
    public void Forget(string service)
    {
        foreach (var key in _cache.Keys.Where(k => k.Service == service))
        {
            _cache.TryRemove(key, out _);
        }
    }
}
