using Xunit.Abstractions;

namespace SemEdge.Tests.Platform;

[Collection(Arm64BundleCollection.Name)]
public sealed class Arm64BundleTests(Arm64Bundle bundle, ITestOutputHelper output)
{
    [Fact]
    public void Bundle_holds_only_arm64_native_files_and_no_windows_binaries()
    {
        output.WriteLine(bundle.Publish.Stderr);
        var files = Directory.EnumerateFiles(bundle.Root, "*", SearchOption.AllDirectories).ToList();
        Assert.Contains(files, f => Path.GetFileName(f) == "libonnxruntime.so");
        Assert.Contains(files, f => Path.GetFileName(f) == "libSkiaSharp.so");
        Assert.DoesNotContain(files, f => Path.GetFileName(f).StartsWith("onnxruntime", StringComparison.Ordinal)
            && f.EndsWith(".dll", StringComparison.Ordinal));
        foreach (var file in files)
        {
            var head = new byte[20];
            using (var stream = File.OpenRead(file))
            {
                stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            }

            if (head[0] == 0x7F && head[1] == (byte)'E' && head[2] == (byte)'L' && head[3] == (byte)'F')
            {
                // e_machine at offset 18, little-endian: 183 is EM_AARCH64.
                Assert.True(BitConverter.ToUInt16(head, 18) == 183, $"{file} is not an AArch64 ELF file");
            }
        }
    }

    [Fact]
    public async Task Bundle_manifest_and_checksum_file_match_the_bytes()
    {
        var manifest = File.ReadAllLines(Path.Combine(bundle.Root, "MANIFEST"));
        var listed = new HashSet<string>();
        foreach (var line in manifest)
        {
            var fields = line.Split("  ", 3);
            var path = Path.Combine(bundle.Root, fields[2]);
            Assert.Equal(long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture), new FileInfo(path).Length);
            Assert.Equal(fields[0], await FileHash.Sha256HexAsync(path));
            listed.Add(fields[2]);
        }

        var onDisk = Directory.EnumerateFiles(bundle.Root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(bundle.Root, f)).Where(f => f != "MANIFEST");
        Assert.Equal(onDisk.Order(), listed.Order());
        Assert.Equal(Arm64Bundle.Version, File.ReadAllText(Path.Combine(bundle.Root, "VERSION")).Trim());
        Assert.Contains("glibc=", File.ReadAllText(Path.Combine(bundle.Root, "REQUIRES")));
        Assert.True(File.Exists(Path.Combine(bundle.Root, "platform", "semedge.service")));

        var check = await ToolRun.RunAsync("sha256sum", ["-c", bundle.Tarball + ".sha256"], TimeSpan.FromMinutes(1),
            workingDirectory: Path.GetDirectoryName(bundle.Tarball));
        Assert.True(check.ExitCode == 0, check.Output);

        // scripts/publish signed it with openssl; semedge's own verifier accepts that signature, and the shipped
        // manifests travel with theirs.
        var key = SemEdge.Signing.DetachedSignature.Verify(bundle.Tarball, await File.ReadAllBytesAsync(bundle.Tarball),
            SemEdge.Signing.DetachedSignature.BundlePurpose, [SemEdge.Tests.Inference.TestModels.Key.Public]);
        Assert.Equal(SemEdge.Tests.Inference.TestModels.Key.Public.Id, key.Id);
        if (bundle.HasModels)
        {
            Assert.All(Directory.GetFiles(Path.Combine(bundle.Root, "models"), "*.json"), m => Assert.True(File.Exists(m + ".sig"), $"{m} has no .sig"));
        }
        output.WriteLine($"{Path.GetFileName(bundle.Tarball)}: {new FileInfo(bundle.Tarball).Length / 1048576.0:0.0} MiB");
    }

    [Fact]
    public async Task Bundle_starts_under_qemu_and_reports_its_version()
    {
        var run = await bundle.RunUnderQemuAsync(["--version"], TimeSpan.FromMinutes(2));

        output.WriteLine(run.Output);
        Assert.Equal(0, run.ExitCode);
        Assert.StartsWith(Arm64Bundle.Version, run.Stdout.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public void Emulated_runs_see_a_board_cpuinfo_and_the_arm64_loader()
    {
        // What qemu's prefix lookup hands the guest for /proc/cpuinfo and for the ELF interpreter.
        var cpuinfo = File.ReadAllText(Path.Combine(bundle.QemuRoot, "proc", "cpuinfo"));
        var cortexA53 = cpuinfo.Split("CPU part\t: 0xd03").Length - 1;
        Assert.True(cortexA53 >= 1, cpuinfo);
        Assert.Equal(cortexA53, cpuinfo.Split("processor\t: ").Length - 1);
        Assert.DoesNotContain("GenuineIntel", cpuinfo, StringComparison.Ordinal);
        Assert.DoesNotContain("AuthenticAMD", cpuinfo, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(bundle.QemuRoot, "lib", "ld-linux-aarch64.so.1")), "no arm64 loader under the qemu root");
    }
}
