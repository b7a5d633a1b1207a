using SemEdge.Cli;
using SemEdge.Inference;
using SemEdge.Toolchain;
using SemEdge.Toolchain.Quantization;

namespace SemEdge.Tests.Toolchain.Quantization;

public class QuantizeCommandTests
{
    [Fact]
    public void Quantize_writes_the_int8_model_and_a_manifest_that_names_it()
    {
        using var temp = new TempFolder();
        var output = temp.Combine("out/mnv3.int8.onnx");
        var stdout = new StringWriter();
        var code = QuantizeJob.Run(
            new QuantizeRequest(ToolchainFixtures.Mnv3, ToolchainFixtures.Images, output, CalibrationMethod.Percentile, 99.9, 12, null),
            stdout, TextWriter.Null, CancellationToken.None);

        Assert.Equal(JobOutcome.Succeeded, code);
        var manifest = ModelManifest.Load(temp.Combine("out/mnv3.int8.json"));
        var source = ModelManifest.Load(Path.ChangeExtension(ToolchainFixtures.Mnv3, ".json"));
        Assert.Equal("int8-qdq", manifest.Format);
        Assert.Equal("mnv3.int8.onnx", manifest.File);
        Assert.Equal(ModelFiles.Sha256(output), manifest.Sha256);
        Assert.Equal(source.Classes, manifest.Classes);
        Assert.Equal(source.Preprocessing, manifest.Preprocessing);
        Assert.Equal(12, manifest.Training!["quantization"].GetProperty("calibrationImages").GetInt32());

        var report = stdout.ToString();
        Assert.Contains("percentile 99.9 over 12 images", report);
        Assert.Contains("HardSwish", report);
        Assert.Contains("HardSigmoid", report);
        Assert.Contains("QLinearConv 52", report);
        Assert.Matches(@"size +0\.\d+ MB -> 0\.\d+ MB", report);
    }

    [Theory]
    [InlineData("quantize", "{mnv3}", "--out", "{tmp}/x.onnx")]
    [InlineData("quantize", "{mnv3}", "--calib", "{images}")]
    [InlineData("quantize", "{mnv3}", "--calib", "{images}", "--out", "{tmp}/x.onnx", "--method", "kmeans")]
    [InlineData("quantize", "{mnv3}", "--calib", "{images}", "--out", "{tmp}/x.onnx", "--max-images", "0")]
    [InlineData("quantize", "{mnv3}", "--calib", "{images}", "--out", "{tmp}/x.onnx", "--percentile", "30")]
    [InlineData("quantize", "{tmp}/missing.onnx", "--calib", "{images}", "--out", "{tmp}/x.onnx")]
    [InlineData("quantize", "{mnv3}", "--calib", "{tmp}/no-such-dir", "--out", "{tmp}/x.onnx")]
    [InlineData("quantize", "{mnv3}", "--calib", "{images}", "--out", "{mnv3}")]
    public async Task Bad_quantize_arguments_exit_with_usage_code(params string[] args)
    {
        using var temp = new TempFolder();
        var resolved = args.Select(a => a.Replace("{mnv3}", ToolchainFixtures.Mnv3).Replace("{images}", ToolchainFixtures.Images)
            .Replace("{tmp}", temp.Path)).ToArray();
        Assert.Equal(SemEdgeCli.ExitUsage, await WorkstationCli.RunAsync(resolved, CancellationToken.None));
        Assert.False(File.Exists(temp.Combine("x.onnx")));
    }

    [Fact]
    public void A_calibration_folder_without_images_is_a_usage_error()
    {
        using var temp = new TempFolder();
        File.WriteAllText(temp.Combine("notes.txt"), "no images here");
        var ex = Assert.Throws<JobInputException>(() => QuantizeJob.Run(
            new QuantizeRequest(ToolchainFixtures.Mnv3, temp.Path, temp.Combine("x.onnx"), CalibrationMethod.MinMax, 99.99, 10, null),
            TextWriter.Null, TextWriter.Null, CancellationToken.None));
        Assert.Contains("no images", ex.Message);
    }
}
