using System.Diagnostics;
using SemEdge.Toolchain.Quantization;
using Xunit.Abstractions;

namespace SemEdge.Tests.Toolchain.Quantization;

/// <summary>
/// The reference network at full width (torchvision mobilenet_v3_small, 1 input channel, 10 classes, opset 17),
/// exported by torch into a temporary folder: too large to commit, and the test that the quantizer copes with
/// exactly what the trainer exports.
/// </summary>
// Calibrates and quantizes a full-size network: slow, so scripts/test --fast leaves it out.
[Trait("Category", "Slow")]
public class FullMobileNetTests(ITestOutputHelper output)
{
    [Fact]
    public void Full_size_mobilenet_v3_small_quantizes_to_under_a_third_and_follows_fp32()
    {
        using var temp = new TempFolder();
        Export(temp.Path);
        var fp32 = temp.Combine("mnv3.onnx");
        var inputs = ToolchainFixtures.LoadInputs();

        var result = new ModelQuantizer(CalibrationMethod.MinMax, 99.99)
            .Quantize(fp32, temp.Combine("mnv3.int8.onnx"), inputs, ToolchainFixtures.InputShape, CancellationToken.None);

        output.WriteLine($"{result.SizeBefore} -> {result.SizeAfter} bytes; {result.Agreement}; fused: " +
            string.Join(", ", result.FusedOps.Select(kv => $"{kv.Key} {kv.Value}")));
        Assert.True(result.SizeAfter < result.SizeBefore / 3, $"{result.SizeAfter} of {result.SizeBefore} bytes");
        Assert.Equal(52, result.FusedOps.GetValueOrDefault("QLinearConv"));
        Assert.True(result.Agreement.Top1Rate >= 0.9, $"top-1 agreement {result.Agreement.Top1Rate:P1}");
    }

    private static void Export(string directory)
    {
        var start = new ProcessStartInfo("/usr/bin/python3")
        {
            ArgumentList = { Path.Combine(ToolchainFixtures.Dir, "make_fixtures.py"), directory, "--full" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"torch export failed (python3 with torch 1.13+ and torchvision needed):\n{stdout}\n{stderr.Result}");
    }
}
