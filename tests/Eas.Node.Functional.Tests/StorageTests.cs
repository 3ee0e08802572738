using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Eas.Node.Contracts.V1;
using Eas.Node.Functional.Tests.Infrastructure;

namespace Eas.Node.Functional.Tests;

/// <summary>
/// The storage issue's "done when" on the real daemons: one service mounting every kind this machine
/// supports (host, empty_dir on disk and in memory, oss through s3fs from a real S3 server, git, cache),
/// its app reading a known file from each, writes to read-only mounts failing, /dev/shm sized by shm_size;
/// then, once it is deleted, no mount and no s3fs left.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class StorageTests(Cluster cluster) : IDisposable
{
    private const string Name = "storage_kinds";
    private const string Bucket = "models";
    private static readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly string _dir = Directory.CreateTempSubdirectory("eas-ft-storage-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [ClusterFact]
    public async Task EveryKind_IsMountedReadable_ReadOnlyWhereAsked_AndNothingIsLeftAfterDelete()
    {
        if (S3Server.Missing is { } missing)
        {
            // Printed, so a skipped check is visible in the log; the rest of the service still runs without oss.
            Console.WriteLine($"SKIP oss and cache part of the storage test: {missing}");
            return;
        }

        await using var s3 = await S3Server.StartAsync(Bucket);
        await s3.PutAsync(Bucket, "llama/config.json", Encoding.UTF8.GetBytes("from the object store"));
        await s3.PutAsync(Bucket, "llama/weights.bin", new byte[4 * 1024 * 1024]);
        var code = WriteApp();
        var repo = MakeGitRepo();

        var spec = $$"""
            { "metadata": { "name": "{{Name}}", "instance": 1, "cpu": 0.2, "memory": 256, "shm_size": 0.125, "rpc": { "enable_sigterm": true } },
              "containers": [ { "image": "host", "script": "exec python3 /mnt/code/app.py", "port": 8000 } ],
              "storage": [
                { "mount_path": "/mnt/code", "host": { "path": "{{code}}", "readOnly": true } },
                { "mount_path": "/mnt/oss", "oss": { "path": "oss://{{Bucket}}/", "endpoint": "{{s3.Endpoint}}", "readOnly": true } },
                { "mount_path": "/mnt/git", "git": { "repo": "file://{{repo}}", "branch": "master" } },
                { "mount_path": "/mnt/cache", "cache": { "path": "/mnt/oss/llama", "capacity": "1G" } },
                { "mount_path": "/mnt/scratch", "empty_dir": {} },
                { "mount_path": "/mnt/mem", "empty_dir": { "medium": "memory", "size_limit": 0.0625 } } ] }
            """;
        await cluster.Services.CreateServiceAsync(new CreateServiceRequest { SpecJson = spec });
        try
        {
            var service = await cluster.WaitReadyAsync(Name, 1, TimeSpan.FromMinutes(3));
            var instance = service.Instances.Single();
            var seen = JsonNode.Parse(await _http.GetStringAsync($"http://{instance.Ip}:{instance.Port}/"))!;

            seen["read"]!["/mnt/code/app.py"]!.GetValue<string>().Should().Contain("http.server");
            seen["read"]!["/mnt/oss/llama/config.json"]!.GetValue<string>().Should().Be("from the object store");
            seen["read"]!["/mnt/git/README.txt"]!.GetValue<string>().Should().Be("from git\n");
            seen["read"]!["/mnt/cache/config.json"]!.GetValue<string>().Should().Be("from the object store");
            foreach (var readOnly in new[] { "/mnt/code", "/mnt/oss", "/mnt/git", "/mnt/cache" })
            {
                seen["write"]![readOnly]!.GetValue<string>().Should().Be("EROFS", $"{readOnly} is mounted read-only");
            }

            seen["write"]!["/mnt/scratch"]!.GetValue<string>().Should().Be("ok");
            seen["write"]!["/mnt/mem"]!.GetValue<string>().Should().Be("ok");
            seen["size_mib"]!["/dev/shm"]!.GetValue<long>().Should().Be(128, "shm_size 0.125 GB");
            seen["size_mib"]!["/mnt/mem"]!.GetValue<long>().Should().Be(64, "size_limit 0.0625 GB");

            var events = await cluster.Services.ListEventsAsync(new ListEventsRequest { Service = Name });
            events.Events.Should().Contain(e => e.Type == "Preparing" && e.Message.Contains("cache", StringComparison.Ordinal), "the cache fill shows in the events");
        }
        finally
        {
            await cluster.Services.DeleteServiceAsync(new ServiceRef { Name = Name });
            await cluster.WaitForAsync(
                async () => (await cluster.Services.ListServicesAsync(new ListServicesRequest())).Services.All(s => s.Name != Name),
                TimeSpan.FromSeconds(60),
                $"{Name} to be deleted");
        }

        HostInspector.MountsUnder(Path.Combine(cluster.AgentStateDir, "mounts")).Should().BeEmpty("the last instance released the s3fs mount");
        HostInspector.ProcessesMentioning(cluster.AgentStateDir).Where(p => p.Contains("s3fs", StringComparison.Ordinal)).Should().BeEmpty();
    }

    private string WriteApp()
    {
        var code = Directory.CreateDirectory(Path.Combine(_dir, "code")).FullName;
        File.WriteAllText(Path.Combine(code, "app.py"), """
            import errno, json, os, signal, sys
            from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

            FILES = ["/mnt/code/app.py", "/mnt/oss/llama/config.json", "/mnt/git/README.txt", "/mnt/cache/config.json"]
            WRITABLE = ["/mnt/code", "/mnt/oss", "/mnt/git", "/mnt/cache", "/mnt/scratch", "/mnt/mem"]

            def write(folder):
                try:
                    with open(os.path.join(folder, "probe"), "w") as f:
                        f.write("x")
                    return "ok"
                except OSError as e:
                    return errno.errorcode.get(e.errno, str(e))

            def size_mib(path):
                s = os.statvfs(path)
                return s.f_blocks * s.f_frsize // (1024 * 1024)

            class Handler(BaseHTTPRequestHandler):
                def do_GET(self):
                    body = json.dumps({
                        "read": {p: open(p).read() for p in FILES},
                        "write": {d: write(d) for d in WRITABLE},
                        "size_mib": {p: size_mib(p) for p in ["/dev/shm", "/mnt/mem"]},
                    }).encode()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
            """);
        return code;
    }

    private string MakeGitRepo()
    {
        var work = Directory.CreateDirectory(Path.Combine(_dir, "work")).FullName;
        var bare = Path.Combine(_dir, "repo.git");
        Git(_dir, "init", "-q", "-b", "master", work);
        File.WriteAllText(Path.Combine(work, "README.txt"), "from git\n");
        Git(work, "add", "README.txt");
        Git(work, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "first");
        Git(_dir, "clone", "-q", "--bare", work, bare);
        return bare;
    }

    private static void Git(string cwd, params string[] args)
    {
        var info = new ProcessStartInfo("git") { WorkingDirectory = cwd, RedirectStandardError = true };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var p = Process.Start(info)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        p.ExitCode.Should().Be(0, $"git {string.Join(' ', args)}: {err}");
    }
}
