using System.CommandLine;
using SemEdge.Toolchain;
using SemEdge.Toolchain.Quantization;

namespace SemEdge.Cli;

internal static class QuantizeCommand
{
    public static Command Create()
    {
        var command = new Command("quantize", "Static INT8 (QDQ) post-training quantization of an FP32 ONNX model.");
        var input = new Argument<string>("IN") { Description = "FP32 ONNX model." };
        var calib = new Option<string>("--calib") { Description = "Folder of calibration images (subfolders included), e.g. DATA/train.", Required = true };
        var output = new Option<string>("--out") { Description = "INT8 ONNX model to write; its manifest goes beside it as .json.", Required = true };
        var method = new Option<string>("--method") { Description = "Activation range: minmax or percentile.", DefaultValueFactory = _ => "minmax" };
        method.AcceptOnlyFromAmong("minmax", "percentile");
        var percentile = new Option<double>("--percentile") { Description = "Percentile kept by --method percentile.", DefaultValueFactory = _ => 99.99 };
        var maxImages = new Option<int>("--max-images") { Description = "Most calibration images used (an evenly spaced subset).", DefaultValueFactory = _ => 200 };
        var manifest = new Option<string?>("--manifest") { Description = "Manifest of IN (default: IN with .json, if present)." };
        command.Arguments.Add(input);
        foreach (var option in new Option[] { calib, output, method, percentile, maxImages, manifest })
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, ct) =>
        {
            var request = new QuantizeRequest(
                parse.GetValue(input)!,
                parse.GetValue(calib)!,
                parse.GetValue(output)!,
                parse.GetValue(method) == "percentile" ? CalibrationMethod.Percentile : CalibrationMethod.MinMax,
                parse.GetValue(percentile),
                parse.GetValue(maxImages),
                parse.GetValue(manifest));
            return Task.FromResult(WorkstationCli.ExitCode(QuantizeJob.Run(request, Console.Out, Console.Error, ct)));
        });
        return command;
    }
}
