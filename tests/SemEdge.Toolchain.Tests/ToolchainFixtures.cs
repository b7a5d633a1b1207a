using SemEdge.Imaging;
using SemEdge.Inference;
using SemEdge.Toolchain.Quantization;

namespace SemEdge.Tests.Toolchain;

/// <summary>Paths to the committed toolchain fixtures (tests/fixtures/toolchain, see make_fixtures.py).</summary>
internal static class ToolchainFixtures
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Dir => Path.Combine(RepoRoot, "tests", "fixtures", "toolchain");

    public static string Images => Path.Combine(Dir, "images");

    public static string Mnv3 => Path.Combine(Dir, "mnv3.onnx");

    public static string Plain => Path.Combine(Dir, "plain.onnx");

    public static readonly long[] InputShape = [1, 1, 128, 128];

    /// <summary>The fixture images preprocessed by the runtime's decoder and preprocessor (128x128, mean 0.5, std 0.25).</summary>
    public static IReadOnlyList<float[]> LoadInputs() =>
        CalibrationSet.Load(CalibrationSet.FindImages(Images, 1000), new Preprocessing { Width = 128, Height = 128 }, CancellationToken.None).Inputs;

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SemEdge.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("SemEdge.sln not found above the test binaries");
    }
}
