using System.Diagnostics;
using System.Runtime.InteropServices;
using BitMiracle.LibTiff.Classic;
using SemEdge.Imaging;
using SemEdge.Inference;
using SemEdge.Tests.Inference;
using SkiaSharp;

namespace SemEdge.Tests.Imaging;

/// <summary>
/// The runtime and the trainer must turn the same file into the same tensor: run the trainer's own
/// preprocessing (src/training/semedge_train/preprocess.py, numpy + PIL) on files written here and compare.
/// </summary>
public class PreprocessParityTests
{
    private static readonly Preprocessing Spec = new() { Width = 128, Height = 128, Mean = 0.5f, Std = 0.25f };

    [Fact]
    public void Runtime_and_trainer_preprocessing_agree_on_png_tiff16_and_colour_bmp()
    {
        using var dir = new TempFolder();
        var files = new Dictionary<string, byte[]>
        {
            ["grey-300x170.png"] = TestImages.EncodeSkia(TestImages.Grey8(300, 170, 21), 300, 170, SKEncodedImageFormat.Png),
            ["grey-512x512.png"] = TestImages.EncodeSkia(TestImages.Grey8(512, 512, 22), 512, 512, SKEncodedImageFormat.Png),
            ["grey16-333x257.tif"] = Tiff16(333, 257),
            ["colour-211x97.bmp"] = TestImages.Bmp24(TestImages.Grey8(211 * 3, 97, 23), 211, 97),
        };
        foreach (var (name, bytes) in files)
        {
            File.WriteAllBytes(Path.Combine(dir.Path, name), bytes);
        }

        RunTrainerPreprocessing(dir.Path, files.Keys);

        var decoder = new ImageDecoder();
        var image = new DecodedImage();
        var pre = new Preprocessor(Spec);
        var tensor = new float[128 * 128];
        foreach (var (name, bytes) in files)
        {
            decoder.Decode(bytes, image);
            pre.Run(image, tensor);
            var python = MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Path.Combine(dir.Path, name + ".f32"))).ToArray();
            Assert.Equal(tensor.Length, python.Length);
            var worst = tensor.Zip(python, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst < 1e-5, $"{name}: largest difference {worst}");
        }
    }

    private static byte[] Tiff16(int width, int height)
    {
        var rng = new Random(24);
        var values = Enumerable.Range(0, width * height).Select(_ => (ushort)rng.Next(65536)).ToArray();
        return TestImages.Tiff(width, height, 16, 1, MemoryMarshal.AsBytes(values.AsSpan()).ToArray(), Photometric.MINISBLACK);
    }

    private static void RunTrainerPreprocessing(string dir, IEnumerable<string> names)
    {
        const string Script = """
            import sys
            sys.path.insert(0, sys.argv[1])
            from semedge_train.preprocess import preprocess_file
            for path in sys.argv[3:]:
                preprocess_file(path, 128, 0.5, 0.25).astype('<f4').tofile(path + '.f32')
            """;
        var python = Environment.GetEnvironmentVariable("SEMEDGE_PYTHON") ?? "/usr/bin/python3";
        var start = new ProcessStartInfo(python) { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Script);
        start.ArgumentList.Add(Path.Combine(Fixtures.RepoRoot, "src", "training"));
        start.ArgumentList.Add(dir);
        foreach (var name in names)
        {
            start.ArgumentList.Add(Path.Combine(dir, name));
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{python} did not start");
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"trainer preprocessing failed ({python}): {errors}");
    }
}
