using System.Text.Json.Nodes;
using Eas.Node.Agent.Instances;
using Eas.Node.Agent.Options;
using Eas.Node.Agent.Runtime;
using Eas.Node.Agent.State;
using Eas.Node.Contracts.V1;

namespace Eas.Node.Agent.Tests.Runtime;

public sealed class OciBundleWriterTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NameResolutionFiles_OwnHosts_AndNoNameServersWithoutOutboundNetwork(bool outbound)
    {
        var state = Directory.CreateTempSubdirectory("eas-bundle-").FullName;
        try
        {
            var paths = new AgentPaths(Microsoft.Extensions.Options.Options.Create(new AgentOptions { StateDir = state }));
            var record = new InstanceRecord { Assignment = new InstanceAssignment { InstanceId = "svc-0123abcd" }, Ip = "10.234.9.5" };
            var context = new InstanceContext(record, paths);
            Directory.CreateDirectory(context.Dir);

            var mounts = OciBundleWriter.NameResolutionFiles(context, outbound).ToList();

            mounts.Select(m => m.Destination).Should().Equal(outbound ? ["/etc/hosts"] : ["/etc/hosts", "/etc/resolv.conf"]);
            File.ReadAllText(mounts[0].Source).Should().Contain("127.0.0.1\tlocalhost").And.Contain("10.234.9.5\tsvc-0123abcd");
            if (!outbound)
            {
                File.ReadAllLines(mounts[1].Source).Should().NotContain(l => l.StartsWith("nameserver", StringComparison.Ordinal));
            }
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    [Fact]
    public void Build_ResourcesAndShm_FollowTheSpec()
    {
        var config = OciBundleWriter.Build(Assignment(spec => { spec.MemoryMib = 512; spec.CpuMillis = 1500; spec.ShmMib = 256; }), [], "", "/state/tmp", ["/usr", "/etc"]);

        var resources = config["linux"]!["resources"]!;
        resources["memory"]!["limit"]!.GetValue<long>().Should().Be(512L * 1024 * 1024);
        resources["cpu"]!["quota"]!.GetValue<long>().Should().Be(150_000);
        resources["cpu"]!["period"]!.GetValue<long>().Should().Be(100_000);
        resources["pids"]!["limit"]!.GetValue<long>().Should().BePositive();
        Mount(config, "/dev/shm")["options"]!.AsArray().Select(o => o!.GetValue<string>()).Should().Contain("size=256m");
        config["linux"]!["cgroupsPath"]!.GetValue<string>().Should().Be("/eas/eas-i-1");
    }

    [Fact]
    public void Build_NoLimits_OmitsMemoryAndCpuAndUsesDefaultShm()
    {
        var config = OciBundleWriter.Build(Assignment(_ => { }), [], "", "/state/tmp", []);

        var resources = config["linux"]!["resources"]!.AsObject();
        resources.ContainsKey("memory").Should().BeFalse();
        resources.ContainsKey("cpu").Should().BeFalse();
        Mount(config, "/dev/shm")["options"]!.AsArray().Select(o => o!.GetValue<string>()).Should().Contain("size=64m");
    }

    [Fact]
    public void Build_EmptyDirInMemoryAtDevShm_ReplacesTheDefaultShm()
    {
        var storage = new[] { OciMount.Tmpfs("/dev/shm", 2048) with { Source = "empty_dir" } };

        var config = OciBundleWriter.Build(Assignment(spec => spec.ShmMib = 256), storage, "", "/state/tmp", []);

        var shm = config["mounts"]!.AsArray().Where(m => m!["destination"]!.GetValue<string>() == "/dev/shm").ToList();
        shm.Should().ContainSingle().Which!["options"]!.AsArray().Select(o => o!.GetValue<string>()).Should().Contain("size=2048m");
    }

    [Fact]
    public void Build_Mounts_HostDirsReadOnlyThenSystemThenStorage()
    {
        var storage = new[] { OciMount.Bind("/srv/code", "/mnt/data", readOnly: true) };

        var config = OciBundleWriter.Build(Assignment(_ => { }), storage, "/state/venvs/abc", "/state/i/tmp", ["/usr", "/etc"]);

        var destinations = config["mounts"]!.AsArray().Select(m => m!["destination"]!.GetValue<string>()).ToList();
        destinations.Should().ContainInOrder("/usr", "/etc", "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/tmp", "/state/venvs/abc", "/mnt/data");
        Mount(config, "/usr")["options"]!.AsArray().Select(o => o!.GetValue<string>()).Should().Contain("ro");
        Mount(config, "/mnt/data")["source"]!.GetValue<string>().Should().Be("/srv/code");
        Mount(config, "/mnt/data")["options"]!.AsArray().Select(o => o!.GetValue<string>()).Should().Contain("ro");
        Mount(config, "/state/venvs/abc")["options"]!.AsArray().Select(o => o!.GetValue<string>()).Should().Contain("ro");
        Mount(config, "/tmp")["source"]!.GetValue<string>().Should().Be("/state/i/tmp");
        Mount(config, "/sys")["options"]!.AsArray().Select(o => o!.GetValue<string>()).Should().Contain("ro");
    }

    [Fact]
    public void Build_Namespaces_NetworkJoinsTheInstanceNetns()
    {
        var config = OciBundleWriter.Build(Assignment(_ => { }), [], "", "/t", []);

        var namespaces = config["linux"]!["namespaces"]!.AsArray();
        namespaces.Select(n => n!["type"]!.GetValue<string>()).Should().BeEquivalentTo("pid", "ipc", "uts", "mount", "network");
        namespaces.Single(n => n!["type"]!.GetValue<string>() == "network")!["path"]!.GetValue<string>().Should().Be("/var/run/netns/eas-i-1");
        config["hostname"]!.GetValue<string>().Should().Be("i-1");
        config["process"]!["noNewPrivileges"]!.GetValue<bool>().Should().BeTrue();
        config["root"]!["readonly"]!.GetValue<bool>().Should().BeTrue();
        config["linux"]!["maskedPaths"]!.AsArray().Select(p => p!.GetValue<string>()).Should().Contain("/proc/kcore");
        config["process"]!["capabilities"]!["bounding"]!.AsArray().Select(c => c!.GetValue<string>()).Should().Contain("CAP_NET_BIND_SERVICE").And.NotContain("CAP_SYS_ADMIN");
    }

    [Fact]
    public void Build_Script_RunsThroughShell()
    {
        var config = OciBundleWriter.Build(Assignment(spec => spec.Script = "python3 app.py"), [], "", "/t", []);

        config["process"]!["args"]!.AsArray().Select(a => a!.GetValue<string>()).Should().Equal("/bin/sh", "-c", "python3 app.py");
        config["process"]!["cwd"]!.GetValue<string>().Should().Be("/");
    }

    [Fact]
    public void Build_Command_RunsAsIs()
    {
        var config = OciBundleWriter.Build(Assignment(spec => { spec.Script = ""; spec.Command.Add(["python3", "-m", "http.server"]); }), [], "", "/t", []);

        config["process"]!["args"]!.AsArray().Select(a => a!.GetValue<string>()).Should().Equal("python3", "-m", "http.server");
    }

    [Fact]
    public void Arguments_NeitherScriptNorCommand_FailsWithFix()
    {
        var act = () => OciBundleWriter.Arguments(new InstanceSpec());

        act.Should().Throw<InstanceFailedException>().WithMessage("*script*command*");
    }

    [Fact]
    public void Environment_PlatformVariablesWinAndVenvGoesFirstOnPath()
    {
        var assignment = Assignment(spec =>
        {
            spec.Port = 8000;
            spec.Env.Add("MODEL", "m1");
            spec.Env.Add("PORT", "1");
        });

        var env = OciBundleWriter.Environment(assignment, "/state/venvs/abc").ToDictionary(kv => kv.Key, kv => kv.Value);

        env["MODEL"].Should().Be("m1");
        env["PORT"].Should().Be("8000");
        env["EAS_INSTANCE_ID"].Should().Be("i-1");
        env["EAS_SERVICE_NAME"].Should().Be("svc");
        env["EAS_SERVICE_VERSION"].Should().Be("3");
        env["HOME"].Should().Be("/tmp");
        env["VIRTUAL_ENV"].Should().Be("/state/venvs/abc");
        env["PATH"].Should().StartWith("/state/venvs/abc/bin:").And.Contain("/usr/bin");
    }

    private static JsonNode Mount(JsonObject config, string destination)
        => config["mounts"]!.AsArray().Single(m => m!["destination"]!.GetValue<string>() == destination)!;

    private static InstanceAssignment Assignment(Action<InstanceSpec> configure)
    {
        var spec = new InstanceSpec { Image = "host", Script = "true", Port = 8000 };
        configure(spec);
        return new InstanceAssignment { InstanceId = "i-1", Service = "svc", ServiceVersion = 3, Spec = spec };
    }
}
