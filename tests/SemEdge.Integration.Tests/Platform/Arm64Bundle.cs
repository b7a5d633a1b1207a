using System.Formats.Tar;
using System.IO.Compression;

namespace SemEdge.Tests.Platform;

/// <summary>
/// The linux-arm64 bundle, published once per test run with scripts/publish (ReadyToRun for arm64 takes a while)
/// into artifacts/platform-test and unpacked there, for the tests that inspect it or run it under qemu.
/// </summary>
public sealed class Arm64Bundle : IAsyncLifetime
{
    public const string Rid = "linux-arm64";
    public const string Version = "0.0.0-test";

    public string OutDir { get; } = Path.Combine(RepoPaths.Root, "artifacts", "platform-test");

    public string Tarball { get; private set; } = "";

    /// <summary>The unpacked bundle (the folder that becomes /opt/semedge/releases/VERSION on a board).</summary>
    public string Root { get; private set; } = "";

    public ToolRun Publish { get; private set; } = new(-1, "", "");

    public bool HasModels { get; private set; }

    /// <summary>QEMU_LD_PREFIX of the emulated runs (see <see cref="BuildQemuRoot"/>).</summary>
    public string QemuRoot { get; private set; } = "";

    public async Task InitializeAsync()
    {
        HasModels = Directory.Exists(Path.Combine(RepoPaths.Root, "models"))
            && Directory.EnumerateFiles(Path.Combine(RepoPaths.Root, "models"), "*.json").Any();
        // Signed with the test run's key (never a developer's own development key).
        Directory.CreateDirectory(OutDir);
        var signingKey = Path.Combine(OutDir, "bundle-signing.key");
        File.Delete(signingKey);
        File.Delete(signingKey + ".pub");
        SemEdge.Tests.Inference.TestModels.Key.Save(signingKey);
        List<string> args = ["--rid", Rid, "--out", OutDir, "--version", Version, "--signing-key", signingKey];
        if (!HasModels)
        {
            args.Add("--no-models");
        }

        Publish = await ToolRun.RunAsync(Path.Combine(RepoPaths.Scripts, "publish"), args, TimeSpan.FromMinutes(15));
        if (Publish.ExitCode != 0)
        {
            throw new InvalidOperationException($"scripts/publish failed ({Publish.ExitCode}):\n{Publish.Output}");
        }

        Tarball = Publish.Stdout.Trim().Split('\n')[^1];
        var unpacked = Path.Combine(OutDir, "unpacked");
        if (Directory.Exists(unpacked))
        {
            Directory.Delete(unpacked, recursive: true);
        }

        Directory.CreateDirectory(unpacked);
        await using (var gz = new GZipStream(File.OpenRead(Tarball), CompressionMode.Decompress))
        {
            await TarFile.ExtractToDirectoryAsync(gz, unpacked, overwriteFiles: true);
        }

        Root = Directory.GetDirectories(unpacked).Single();
        QemuRoot = BuildQemuRoot(Path.Combine(OutDir, "qemu-root"), QemuLibraryRoot());
    }

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>
    /// Runs the bundle's semedge under qemu-aarch64-static. .NET needs the arm64 glibc, libstdc++ and, for
    /// hashing (model sha256), OpenSSL: a multiarch install under / (libssl3:arm64) has them all; the cross
    /// packages' /usr/aarch64-linux-gnu has no OpenSSL and serves only what runs without it.
    /// </summary>
    public Task<ToolRun> RunUnderQemuAsync(IEnumerable<string> args, TimeSpan timeout, CancellationToken ct = default) =>
        ToolRun.RunAsync(
            "qemu-aarch64-static",
            [Path.Combine(Root, "semedge"), .. args],
            timeout,
            workingDirectory: Root,
            environment: new Dictionary<string, string?> { ["QEMU_LD_PREFIX"] = QemuRoot },
            cancellationToken: ct);

    public static string QemuLibraryRoot() =>
        File.Exists("/usr/lib/aarch64-linux-gnu/libssl.so.3") || !File.Exists("/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1")
            ? "/"
            : "/usr/aarch64-linux-gnu";

    /// <summary>
    /// qemu-user opens every absolute path the guest asks for under QEMU_LD_PREFIX first, where it exists. This
    /// folder holds links to the arm64 libraries (<paramref name="libraryRoot"/>'s lib and usr) and the
    /// /proc/cpuinfo of a board: Cortex-A53 cores, as on the i.MX 8M Plus. qemu 7.2 hands the guest the host's
    /// x86 /proc/cpuinfo, and ONNX Runtime's CPU detection (cpuinfo's arm64 Linux parser) crashed with SIGSEGV
    /// on that at session creation on a 6.18-kernel AMD host; a board never shows it an x86 file.
    /// </summary>
    public static string BuildQemuRoot(string folder, string libraryRoot)
    {
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }

        Directory.CreateDirectory(Path.Combine(folder, "proc"));
        foreach (var name in new[] { "lib", "usr" })
        {
            var target = Path.Combine(libraryRoot, name);
            if (Directory.Exists(target))
            {
                File.CreateSymbolicLink(Path.Combine(folder, name), target);
            }
        }

        // One entry per CPU the kernel reports, so the parser's count agrees with /sys/devices/system/cpu.
        var cores = Enumerable.Range(0, HostCpuCount()).Select(i =>
            $"processor\t: {i}\nBogoMIPS\t: 16.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid\n" +
            "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd03\nCPU revision\t: 4\n\n");
        File.WriteAllText(Path.Combine(folder, "proc", "cpuinfo"), string.Concat(cores));
        return folder;
    }

    private static int HostCpuCount()
    {
        // "0-1" or "0,2-3": the highest index + 1, as the kernel numbers them.
        const string possible = "/sys/devices/system/cpu/possible";
        if (File.Exists(possible)
            && int.TryParse(File.ReadAllText(possible).Trim().Split(',', '-')[^1], out var highest))
        {
            return highest + 1;
        }

        return Environment.ProcessorCount;
    }
}

[CollectionDefinition(Name)]
public sealed class Arm64BundleCollection : ICollectionFixture<Arm64Bundle>
{
    public const string Name = "linux-arm64 bundle";
}
