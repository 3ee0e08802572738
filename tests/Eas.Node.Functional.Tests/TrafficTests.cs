using System.Diagnostics;
using System.Text.Json.Nodes;
using Eas.Node.Contracts.V1;
using Eas.Node.Functional.Tests.Infrastructure;
using Grpc.Core;
using Grpc.Net.Client;
using Xunit.Abstractions;

namespace Eas.Node.Functional.Tests;

/// <summary>
/// Issue 7 through the whole platform: services deployed by the coordinator and run by the agent, called through the
/// embedded gateway — a group with blue-green weights set by easctl, a real gRPC service (python3-grpcio) in an instance,
/// an SSE service streamed to <c>curl -N</c>, and its call records read back with <c>easctl records</c>.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class TrafficTests(Cluster cluster, ITestOutputHelper output)
{
    private static readonly TimeSpan _deploy = TimeSpan.FromSeconds(120);

    [ClusterFact]
    public async Task Group_CustomizedWeights900To100_SplitTheGroupsCalls_AndAnyMembersTokenIsAccepted()
    {
        const string Group = "traffic_demo";
        try
        {
            var blue = await DeployAsync(Member("traffic_blue", Group));
            var green = await DeployAsync(Member("traffic_green", Group));
            (await Easctl.RunAsync(cluster, "group", "traffic", Group, "--mode", "customized")).Exit.Should().Be(0);
            var release = await Easctl.RunAsync(cluster, "release", "traffic_blue", "--weight", "900");
            release.Exit.Should().Be(0, release.Stderr);
            release.Stdout.Should().Contain("weight [900]");
            (await Easctl.RunAsync(cluster, "release", "traffic_green", "--weight", "100")).Exit.Should().Be(0);

            var (exit, json, _) = await Easctl.RunAsync(cluster, "group", "desc", Group, "-o", "json");
            exit.Should().Be(0);
            var members = JsonNode.Parse(json)!["members"]!.AsArray();
            members.Select(m => (m!["service"]!.GetValue<string>(), m["weight"]!.GetValue<int>()))
                .Should().BeEquivalentTo([("traffic_blue", 900), ("traffic_green", 100)]);

            using var http = new HttpClient();
            var url = $"{cluster.GatewayUrl}/api/predict/{Group}/";

            // The gateway hears of the weights from the coordinator's feed; auto mode would split these two 1:1.
            await cluster.WaitForAsync(async () => await CountGreenAsync(http, url, blue.Token, 100) <= 20, TimeSpan.FromSeconds(20), "the gateway to use the new weights");

            const int Calls = 2000;
            var greenCalls = await CountGreenAsync(http, url, blue.Token, Calls);
            output.WriteLine($"{greenCalls} of {Calls} group calls reached traffic_green (weight 100 of 1000)");
            ((double)greenCalls / Calls).Should().BeInRange(0.08, 0.12);

            // Each member keeps its own token; the group endpoint takes either.
            using var withGreenToken = await GetAsync(http, url, green.Token);
            withGreenToken.StatusCode.Should().Be(System.Net.HttpStatusCode.OK);
            using var direct = await GetAsync(http, $"{cluster.GatewayUrl}/api/predict/{Group}.traffic_green/", green.Token);
            (await direct.Content.ReadAsStringAsync()).Should().Contain("instance=traffic_green");
            using var wrongMember = await GetAsync(http, $"{cluster.GatewayUrl}/api/predict/traffic_green/", blue.Token);
            wrongMember.StatusCode.Should().Be(System.Net.HttpStatusCode.Unauthorized, "a member's own endpoint takes only its token");
        }
        finally
        {
            await DeleteAsync("traffic_blue");
            await DeleteAsync("traffic_green");
        }

        (await Easctl.RunAsync(cluster, "group", "desc", Group)).Exit.Should().NotBe(0, "the group goes with its last member");
    }

    [ClusterFact]
    public async Task Grpc_EnableGrpc_UnaryAndServerStreamingCallsThroughTheGateway()
    {
        var spec = new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "grpc_demo", ["instance"] = 1, ["cpu"] = 0.2, ["memory"] = 256, ["enable_grpc"] = true },
            ["containers"] = new JsonArray(new JsonObject { ["image"] = "host", ["script"] = "exec python3 /mnt/code/server.py", ["port"] = 8000 }),
            ["storage"] = HostCode("examples/grpc-echo"),
        };
        try
        {
            var service = await DeployAsync(spec);
            using var channel = GrpcChannel.ForAddress(cluster.GatewayUrl);
            var invoker = channel.CreateCallInvoker();
            var bytes = Marshallers.Create((byte[] b) => b, b => b);
            var say = new Method<byte[], byte[]>(MethodType.Unary, "eas.example.Echo", "Say", bytes, bytes);
            var count = new Method<byte[], byte[]>(MethodType.ServerStreaming, "eas.example.Echo", "Count", bytes, bytes);

            // gRPC clients call /package.Service/Method at the root: the eas-service header names the service.
            var headers = new Metadata { { "eas-service", "grpc_demo" }, { "authorization", service.Token } };
            var reply = await invoker.AsyncUnaryCall(say, null, new CallOptions(headers), "hi"u8.ToArray());
            System.Text.Encoding.UTF8.GetString(reply).Should().Be("echo: hi");

            using var stream = invoker.AsyncServerStreamingCall(count, null, new CallOptions(headers), "tick 3"u8.ToArray());
            var messages = new List<string>();
            while (await stream.ResponseStream.MoveNext(CancellationToken.None))
            {
                messages.Add(System.Text.Encoding.UTF8.GetString(stream.ResponseStream.Current));
            }

            messages.Should().Equal("tick 1", "tick 2", "tick 3");
            stream.GetStatus().StatusCode.Should().Be(StatusCode.OK);

            var denied = () => invoker.AsyncUnaryCall(say, null, new CallOptions(new Metadata { { "eas-service", "grpc_demo" } }), "x"u8.ToArray()).ResponseAsync;
            (await denied.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.Unauthenticated);
        }
        finally
        {
            await DeleteAsync("grpc_demo");
        }
    }

    [ClusterFact]
    public async Task Sse_FirstEventReachesCurlWhileTheStreamIsOpen_AndTheCallIsRecordedWithoutItsToken()
    {
        var spec = new JsonObject
        {
            // keepalive 3 s bounds the first byte and each gap, not the 4.5 s stream.
            ["metadata"] = new JsonObject { ["name"] = "sse_demo", ["instance"] = 1, ["cpu"] = 0.2, ["memory"] = 256, ["rpc"] = new JsonObject { ["keepalive"] = 3000 } },
            ["containers"] = new JsonArray(new JsonObject { ["image"] = "host", ["script"] = "exec python3 /mnt/code/app.py", ["port"] = 8000 }),
            ["storage"] = HostCode("examples/sse"),
            ["sinker"] = new JsonObject { ["type"] = "file" },
        };
        try
        {
            var service = await DeployAsync(spec);
            var info = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { "-sS", "-N", "-H", "Authorization: " + service.Token, $"{cluster.GatewayUrl}/api/predict/sse_demo/stream?n=4&gap=1.5" })
            {
                info.ArgumentList.Add(arg);
            }

            var clock = Stopwatch.StartNew();
            using var curl = Process.Start(info)!;
            var first = await curl.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10));
            var firstAt = clock.Elapsed;
            first.Should().Be("data: event 1");
            curl.HasExited.Should().BeFalse("the stream is still open when its first event arrives");
            var rest = await curl.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(20));
            await curl.WaitForExitAsync();
            output.WriteLine($"first event after {firstAt.TotalSeconds:0.00} s, stream done after {clock.Elapsed.TotalSeconds:0.00} s");
            curl.ExitCode.Should().Be(0, await curl.StandardError.ReadToEndAsync());
            rest.Should().Contain("data: event 4", "a stream longer than rpc.keepalive is not cut while it keeps sending");
            firstAt.Should().BeLessThan(clock.Elapsed - TimeSpan.FromSeconds(3));

            // The record is written after the call; the file sink flushes within a second.
            string records = "";
            await cluster.WaitForAsync(async () =>
            {
                var (exit, stdout, _) = await Easctl.RunAsync(cluster, "records", "sse_demo", "-n", "5", "-o", "json");
                records = stdout;
                return exit == 0 && stdout.Contains("/stream", StringComparison.Ordinal);
            }, TimeSpan.FromSeconds(15), "the call record of the stream");
            var record = JsonNode.Parse(records.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1])!;
            record["status"]!.GetValue<int>().Should().Be(200);
            record["method"]!.GetValue<string>().Should().Be("GET");
            record["instance"]!.GetValue<string>().Should().StartWith("sse_demo-");
            record["response"]!["body"]!.GetValue<string>().Should().Contain("data: event 1");
            records.Should().NotContain(service.Token);
            var file = Path.Combine(cluster.Dir, "coordinator", "records", "sse_demo.jsonl");
            (await File.ReadAllTextAsync(file)).Should().NotContain(service.Token).And.NotContain("\"authorization\"");
        }
        finally
        {
            await DeleteAsync("sse_demo");
        }
    }

    private static JsonObject Member(string name, string group) => new()
    {
        ["metadata"] = new JsonObject { ["name"] = name, ["instance"] = 1, ["cpu"] = 0.2, ["memory"] = 256, ["group"] = group },
        ["containers"] = new JsonArray(new JsonObject { ["image"] = "host", ["script"] = "exec python3 /mnt/data/app.py", ["port"] = 8000 }),
        ["storage"] = HostCode("examples/quickstart/code", "/mnt/data/"),
    };

    private static JsonArray HostCode(string folder, string mountPath = "/mnt/code/") => new(new JsonObject
    {
        ["mount_path"] = mountPath,
        ["host"] = new JsonObject { ["path"] = Path.Combine(Repo.Root, folder), ["readOnly"] = true },
    });

    private async Task<ServiceInfo> DeployAsync(JsonObject spec)
    {
        var name = spec["metadata"]!["name"]!.GetValue<string>();
        await cluster.Services.CreateServiceAsync(new CreateServiceRequest { SpecJson = spec.ToJsonString() });
        return await cluster.WaitReadyAsync(name, 1, _deploy);
    }

    private async Task DeleteAsync(string name)
    {
        try
        {
            await cluster.Services.DeleteServiceAsync(new ServiceRef { Name = name });
            await cluster.WaitForAsync(
                async () => !(await cluster.Services.ListServicesAsync(new ListServicesRequest())).Services.Any(s => s.Name == name),
                _deploy,
                $"{name} to be deleted");
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            // Never created.
        }
    }

    private static async Task<HttpResponseMessage> GetAsync(HttpClient http, string url, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.TryAddWithoutValidation("Authorization", token);
        return await http.SendAsync(request);
    }

    private static async Task<int> CountGreenAsync(HttpClient http, string url, string token, int calls)
    {
        var green = 0;
        var next = -1;
        async Task Worker()
        {
            while (Interlocked.Increment(ref next) < calls)
            {
                using var response = await GetAsync(http, url, token);
                var body = await response.Content.ReadAsStringAsync();
                response.IsSuccessStatusCode.Should().BeTrue(body);
                if (body.Contains("instance=traffic_green", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref green);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Worker()));
        return green;
    }
}
