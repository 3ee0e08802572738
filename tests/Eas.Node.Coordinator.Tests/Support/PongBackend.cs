using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Eas.Node.Coordinator.Tests.Support;

/// <summary>A stand-in instance on loopback that answers every request with "pong PATH".</summary>
internal static class PongBackend
{
    public static async Task<WebApplication> StartAsync()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.Run(context => context.Response.WriteAsync($"pong {context.Request.Path}"));
        await app.StartAsync();
        return app;
    }
}
