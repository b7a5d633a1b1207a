using SemEdge.Imaging;
using SkiaSharp;

namespace SemEdge.Tests.Inference;

/// <summary>Paths of the committed fixture models (tests/fixtures/models) and images the fixtures answer predictably.</summary>
internal static class Fixtures
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string ModelsDir => Path.Combine(RepoRoot, "tests", "fixtures", "models");

    public static string Classifier => Path.Combine(ModelsDir, "classifier.json");

    public static string Screen => Path.Combine(ModelsDir, "screen.json");

    /// <summary>
    /// A 512x512 grey PNG at <paramref name="background"/> with cell <paramref name="brightCell"/> of the 4x4 grid
    /// (row-major, cells of 128x128 source pixels) set to white; -1 for none.
    /// </summary>
    public static byte[] GridPng(byte background, int brightCell)
    {
        var grey = new byte[512 * 512];
        Array.Fill(grey, background);
        if (brightCell >= 0)
        {
            var cy = brightCell / 4;
            var cx = brightCell % 4;
            for (var y = cy * 128; y < (cy + 1) * 128; y++)
                grey.AsSpan((y * 512) + (cx * 128), 128).Fill(255);
        }

        return TestImages_EncodePng(grey, 512, 512);
    }

    private static byte[] TestImages_EncodePng(byte[] grey, int w, int h) =>
        SemEdge.Tests.Imaging.TestImages.EncodeSkia(grey, w, h, SKEncodedImageFormat.Png);

    /// <summary>Copies the fixture model and manifest into <paramref name="dir"/> and returns the manifest path.</summary>
    public static string CopyModel(string manifest, string dir)
    {
        Directory.CreateDirectory(dir);
        var target = Path.Combine(dir, Path.GetFileName(manifest));
        File.Copy(manifest, target, overwrite: true);
        var onnx = Path.ChangeExtension(manifest, ".onnx");
        File.Copy(onnx, Path.Combine(dir, Path.GetFileName(onnx)), overwrite: true);
        return target;
    }

    public static DecodedImage Decode(byte[] file)
    {
        var image = new DecodedImage();
        new ImageDecoder().Decode(file, image);
        return image;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SemEdge.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"SemEdge.sln not found above {AppContext.BaseDirectory}");
    }
}
