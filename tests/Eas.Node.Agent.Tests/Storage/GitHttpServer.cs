using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Eas.Node.Agent.Tests.Storage;

/// <summary>
/// Serves the repositories under a folder over git's smart HTTP protocol on 127.0.0.1:&lt;free port&gt;: Kestrel
/// in front of <c>git http-backend</c> run as a CGI program per request, with HTTP basic auth when a user is given.
/// </summary>
internal sealed class GitHttpServer : IAsyncDisposable
{
    private readonly string _projectRoot;
    private readonly string? _user;
    private readonly string? _password;
    private WebApplication? _app;

    private GitHttpServer(string projectRoot, string? user, string? password)
    {
        _projectRoot = projectRoot;
        _user = user;
        _password = password;
    }

    /// <summary>"http://127.0.0.1:&lt;port&gt;".</summary>
    public string Address { get; private set; } = "";

    /// <summary>Every request: method, path and the user it authenticated as ("" for none, "!" for a rejected one).</summary>
    public ConcurrentQueue<(string Method, string Path, string User)> Requests { get; } = new();

    public static async Task<GitHttpServer> StartAsync(string projectRoot, string? user = null, string? password = null)
    {
        var server = new GitHttpServer(projectRoot, user, password);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http1));
        server._app = builder.Build();
        server._app.Run(server.HandleAsync);
        await server._app.StartAsync();
        server.Address = server._app.Urls.First().TrimEnd('/');
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var user = "";
        if (_user is not null)
        {
            user = Authenticate(request.Headers.Authorization.ToString());
            if (user.Length == 0)
            {
                Requests.Enqueue((request.Method, request.Path, request.Headers.Authorization.Count > 0 ? "!" : ""));
                context.Response.StatusCode = 401;
                context.Response.Headers.WWWAuthenticate = "Basic realm=\"git\"";
                return;
            }
        }

        Requests.Enqueue((request.Method, request.Path, user));
        var start = new ProcessStartInfo("/usr/bin/git")
        {
            ArgumentList = { "http-backend" },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["GIT_PROJECT_ROOT"] = _projectRoot;
        start.Environment["GIT_HTTP_EXPORT_ALL"] = "1";
        start.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        start.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        start.Environment["HOME"] = _projectRoot;
        start.Environment["PATH_INFO"] = request.Path.Value ?? "/";
        start.Environment["QUERY_STRING"] = request.QueryString.HasValue ? request.QueryString.Value![1..] : "";
        start.Environment["REQUEST_METHOD"] = request.Method;
        start.Environment["CONTENT_TYPE"] = request.ContentType ?? "";
        start.Environment["REMOTE_ADDR"] = "127.0.0.1";
        start.Environment["REMOTE_USER"] = user;
        if (request.ContentLength is { } length)
        {
            start.Environment["CONTENT_LENGTH"] = length.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (request.Headers.ContentEncoding.Count > 0)
        {
            start.Environment["HTTP_CONTENT_ENCODING"] = request.Headers.ContentEncoding.ToString();
        }

        if (request.Headers.TryGetValue("Git-Protocol", out var protocol))
        {
            start.Environment["HTTP_GIT_PROTOCOL"] = protocol.ToString();
        }

        using var backend = Process.Start(start)!;
        var stderr = backend.StandardError.ReadToEndAsync();
        var body = Task.Run(async () =>
        {
            try
            {
                await request.Body.CopyToAsync(backend.StandardInput.BaseStream);
            }
            finally
            {
                backend.StandardInput.Close();
            }
        });
        var output = backend.StandardOutput.BaseStream;
        foreach (var line in await ReadHeadersAsync(output))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var (name, value) = (line[..colon].Trim(), line[(colon + 1)..].Trim());
            if (name.Equals("Status", StringComparison.OrdinalIgnoreCase))
            {
                context.Response.StatusCode = int.Parse(value.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            }
            else
            {
                context.Response.Headers.Append(name, value);
            }
        }

        await output.CopyToAsync(context.Response.Body);
        await body;
        await backend.WaitForExitAsync();
        await stderr;
    }

    private string Authenticate(string header)
    {
        if (!header.StartsWith("Basic ", StringComparison.Ordinal))
        {
            return "";
        }

        var pair = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..]));
        return pair == $"{_user}:{_password}" ? _user! : "";
    }

    /// <summary>The CGI header lines up to the blank line (LF or CRLF), read byte by byte so the body stays in the stream.</summary>
    private static async Task<List<string>> ReadHeadersAsync(Stream output)
    {
        var lines = new List<string>();
        var line = new StringBuilder();
        var one = new byte[1];
        while (await output.ReadAsync(one) == 1)
        {
            if (one[0] == '\n')
            {
                var text = line.ToString().TrimEnd('\r');
                if (text.Length == 0)
                {
                    break;
                }

                lines.Add(text);
                line.Clear();
            }
            else
            {
                line.Append((char)one[0]);
            }
        }

        return lines;
    }
}
