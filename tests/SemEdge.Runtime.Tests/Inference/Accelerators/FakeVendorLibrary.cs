using System.Diagnostics;
using SemEdge.Tests.Inference;

namespace SemEdge.Tests.Inference.Accelerators;

/// <summary>
/// Compiles tests/native/fake_vendor_ep.c into a private folder, one copy per configuration, so parallel tests never
/// share the library's state. See the C file for what the switches do.
/// </summary>
internal sealed class FakeVendorLibrary : IDisposable
{
    public const int Vsinpu = 1;
    public const int Nnapi = 2;
    public const int VsiNpuLegacy = 4;

    private readonly TempFolder _dir = new();

    private FakeVendorLibrary(string compiler, int fail, int omit, string version)
    {
        LogPath = Path.Combine(_dir.Path, "calls.log");
        LibraryPath = Path.Combine(_dir.Path, "libonnxruntime.so");
        Compile(compiler, LibraryPath,
            $"-DFAKE_LOG=\"{LogPath}\"", $"-DFAKE_FAIL={fail}", $"-DFAKE_OMIT={omit}", $"-DFAKE_VERSION=\"{version}\"");
    }

    public static string SourcePath => Path.Combine(Fixtures.RepoRoot, "tests", "native", "fake_vendor_ep.c");

    public string LibraryPath { get; }

    public string LogPath { get; }

    public string Folder => _dir.Path;

    /// <summary>The calls the library saw, one line each.</summary>
    public string[] Calls => File.Exists(LogPath) ? File.ReadAllLines(LogPath) : [];

    public static FakeVendorLibrary Build(int fail = 0, int omit = 0, string version = "1.31.1", string compiler = "gcc") =>
        new(compiler, fail, omit, version);

    public static void Compile(string compiler, string output, params string[] defines)
    {
        var start = new ProcessStartInfo(compiler)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var arg in new[] { "-shared", "-fPIC", "-O1", "-Wall", "-Wextra", "-Werror", "-o", output, SourcePath }.Concat(defines))
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{compiler} did not start");
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{compiler} failed ({process.ExitCode}): {errors}");
        }
    }

    public void Dispose() => _dir.Dispose();
}
