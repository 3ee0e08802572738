using System.Diagnostics;
using System.Runtime.InteropServices;
using Eas.Node.Agent.Interop;

namespace Eas.Node.Agent.Tests.Interop;

public sealed class StatFsLayoutTests
{
    [Fact]
    public void StatFsBuffer_MatchesTheCHeader()
    {
        var dir = Directory.CreateTempSubdirectory("eas-statfs-").FullName;
        try
        {
            var source = Path.Combine(dir, "layout.c");
            File.WriteAllText(source, """
                #include <stdio.h>
                #include <stddef.h>
                #include <sys/vfs.h>
                int main(void) {
                  printf("%zu %zu %zu %zu\n", sizeof(struct statfs), offsetof(struct statfs, f_type),
                         offsetof(struct statfs, f_fsid), offsetof(struct statfs, f_flags));
                  return 0;
                }
                """);
            var binary = Path.Combine(dir, "layout");
            if (Run("cc", $"-o {binary} {source}") is null)
            {
                Console.WriteLine("SKIP StatFsBuffer_MatchesTheCHeader: no C compiler (cc) on this machine");
                return;
            }

            var output = Run(binary, "")!.Split(' ').Select(int.Parse).ToArray();

            output[0].Should().Be(Marshal.SizeOf<StatFsBuffer>());
            output[1].Should().Be((int)Marshal.OffsetOf<StatFsBuffer>(nameof(StatFsBuffer.Type)));
            output[2].Should().Be((int)Marshal.OffsetOf<StatFsBuffer>(nameof(StatFsBuffer.FsId)));
            output[3].Should().Be((int)Marshal.OffsetOf<StatFsBuffer>(nameof(StatFsBuffer.Flags)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void GetType_Proc_IsProcFs()
    {
        // PROC_SUPER_MAGIC
        FileSystems.GetType("/proc").Should().Be(0x9fa0);
    }

    [Fact]
    public void Signals_IsAlive_SelfYesBogusNo()
    {
        Signals.IsAlive(Environment.ProcessId).Should().BeTrue();
        Signals.IsAlive(int.MaxValue - 1).Should().BeFalse();
        Signals.Send(int.MaxValue - 1, 0).Should().BeFalse();
    }

    private static string? Run(string file, string args)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 ? output.Trim() : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
