using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Eas.Node.Gateway.Tests.Infrastructure;

/// <summary>What a backend saw of one forwarded request.</summary>
public sealed record SeenRequest(string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, byte[] Body);

/// <summary>A real Kestrel server on 127.0.0.1 standing in for a service instance.</summary>
public sealed class Backend : IAsyncDisposable
{
    private readonly WebApplication _app;

    private Backend(WebApplication app, string name)
    {
        _app = app;
        Name = name;
    }

    public string Name { get; }

    /// <summary>host:port, as the coordinator would report it.</summary>
    public string Address { get; private set; } = "";

    public ConcurrentQueue<SeenRequest> Seen { get; } = new();

    public int Count => Seen.Count;

    /// <summary>
    /// Starts a backend that records every request and then runs <paramref name="respond"/> (default: 200 with
    /// "&lt;name&gt; &lt;path&gt;&lt;query&gt;" and the request body echoed after a newline).
    /// </summary>
    public static async Task<Backend> StartAsync(string name, Func<HttpContext, Task>? respond = null)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null);
        var app = builder.Build();
        app.Urls.Add("http://127.0.0.1:0");
        var backend = new Backend(app, name);
        app.Run(async context =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
            backend.Seen.Enqueue(new SeenRequest(context.Request.Method, context.Request.Path.ToUriComponent(), context.Request.QueryString.Value ?? "", headers, buffer.ToArray()));
            if (respond is not null)
            {
                await respond(context);
                return;
            }

            await context.Response.WriteAsync($"{name} {context.Request.Path.ToUriComponent()}{context.Request.QueryString}\n");
            await context.Response.Body.WriteAsync(buffer.ToArray());
        });
        await app.StartAsync();
        backend.Address = new Uri(app.Urls.First()).Authority;
        return backend;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
