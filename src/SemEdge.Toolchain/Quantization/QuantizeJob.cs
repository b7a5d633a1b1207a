using System.Text.Json;
using SemEdge.Imaging;
using SemEdge.Inference;
using SemEdge.Toolchain.Onnx;

namespace SemEdge.Toolchain.Quantization;

public sealed record QuantizeRequest(
    string Input,
    string CalibrationDirectory,
    string Output,
    CalibrationMethod Method,
    double Percentile,
    int MaxImages,
    string? Manifest);

/// <summary><c>semedge quantize</c>: checks the request, quantizes, writes the INT8 model and manifest, reports.</summary>
public static class QuantizeJob
{
    public static JobOutcome Run(QuantizeRequest request, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (!File.Exists(request.Input))
        {
            throw new JobInputException($"model '{request.Input}' does not exist");
        }

        if (!Directory.Exists(request.CalibrationDirectory))
        {
            throw new JobInputException($"--calib folder '{request.CalibrationDirectory}' does not exist");
        }

        if (request.MaxImages < 1)
        {
            throw new JobInputException($"--max-images must be at least 1, got {request.MaxImages}");
        }

        if (request.Percentile is <= 50 or > 100 || double.IsNaN(request.Percentile))
        {
            throw new JobInputException($"--percentile must be above 50 and at most 100, got {request.Percentile}");
        }

        if (Path.GetFullPath(request.Input) == Path.GetFullPath(request.Output))
        {
            throw new JobInputException("--out must not overwrite the input model");
        }

        var files = ModelFiles.Resolve(request.Input, request.Manifest);
        try
        {
            var model = OnnxModelFile.Load(request.Input);
            var inputShape = InputShape(model, files.Manifest);
            var preprocessing = files.Manifest?.Preprocessing ?? new Preprocessing { Width = (int)inputShape[^1], Height = (int)inputShape[^2] };
            if (files.Manifest is null)
            {
                stderr.WriteLine($"semedge quantize: no manifest beside {request.Input}; calibrating with default preprocessing " +
                    $"({preprocessing.Width}x{preprocessing.Height}, mean {preprocessing.Mean}, std {preprocessing.Std})");
            }

            var images = CalibrationSet.FindImages(request.CalibrationDirectory, request.MaxImages);
            if (images.Count == 0)
            {
                throw new JobInputException($"--calib folder '{request.CalibrationDirectory}' holds no images (png, jpg, bmp, webp, tif)");
            }

            var calibration = CalibrationSet.Load(images, preprocessing, cancellationToken);
            foreach (var skipped in calibration.Skipped)
            {
                stderr.WriteLine($"semedge quantize: skipped {skipped}");
            }

            if (calibration.Inputs.Count == 0)
            {
                stderr.WriteLine("semedge quantize: no calibration image could be decoded");
                return JobOutcome.Failed;
            }

            var outputDir = Path.GetDirectoryName(Path.GetFullPath(request.Output))!;
            Directory.CreateDirectory(outputDir);
            var result = new ModelQuantizer(request.Method, request.Percentile)
                .Quantize(request.Input, request.Output, calibration.Inputs, inputShape, cancellationToken);

            string? manifestOut = null;
            if (files.Manifest is not null)
            {
                manifestOut = Path.ChangeExtension(request.Output, ".json");
                WriteManifest(files.Manifest, request, result, manifestOut);
            }

            Report(stdout, request, result, calibration, manifestOut);
            return JobOutcome.Succeeded;
        }
        catch (Exception ex) when (ex is QuantizationException or InvalidDataException or Google.Protobuf.InvalidProtocolBufferException
                                       or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            stderr.WriteLine($"semedge quantize: {ex.Message}");
            return JobOutcome.Failed;
        }
    }

    /// <summary>The image input's shape: from the manifest, else from the graph (symbolic dimensions as 1).</summary>
    private static long[] InputShape(ModelProto model, ModelManifest? manifest)
    {
        if (manifest?.Input.Shape is { Count: 4 } shape)
        {
            return shape.Select(d => (long)d).ToArray();
        }

        var initializers = model.Graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var feed = model.Graph.Input.FirstOrDefault(i => !initializers.Contains(i.Name))
            ?? throw new QuantizationException("the model has no image input");
        var dims = feed.Type?.TensorType?.Shape?.Dim;
        if (dims is null || dims.Count != 4)
        {
            throw new QuantizationException($"input '{feed.Name}' is not a 4-D [N,C,H,W] image tensor");
        }

        return dims.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue > 0 ? d.DimValue : 1).ToArray();
    }

    private static void WriteManifest(ModelManifest source, QuantizeRequest request, QuantizationResult result, string path)
    {
        var training = source.Training is null ? new Dictionary<string, JsonElement>() : new Dictionary<string, JsonElement>(source.Training);
        training["quantization"] = Provenance(request, result);
        var manifest = source with
        {
            File = Path.GetRelativePath(Path.GetDirectoryName(Path.GetFullPath(path))!, Path.GetFullPath(request.Output)),
            Sha256 = ModelFiles.Sha256(request.Output),
            Format = "int8-qdq",
            Training = training,
        };
        manifest.Save(path);
    }

    private static JsonElement Provenance(QuantizeRequest request, QuantizationResult result)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("tool", "semedge quantize");
            json.WriteString("method", request.Method == CalibrationMethod.MinMax ? "minmax" : "percentile");
            if (request.Method == CalibrationMethod.Percentile)
            {
                json.WriteNumber("percentile", request.Percentile);
            }

            json.WriteNumber("calibrationImages", result.CalibrationInputs);
            json.WriteString("sourceSha256", ModelFiles.Sha256(request.Input));
            json.WriteNumber("calibrationTop1Agreement", Math.Round(result.Agreement.Top1Rate, 4));
            json.WriteNumber("calibrationMaxAbsLogitDiff", Math.Round(result.Agreement.MaxAbsLogitDiff, 5));
            json.WriteStartArray("leftInFloat");
            foreach (var op in result.Plan.LeftInFloat.Select(f => f.OpType).Distinct(StringComparer.Ordinal))
            {
                json.WriteStringValue(op);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        using var document = JsonDocument.Parse(buffer.ToArray());
        return document.RootElement.Clone();
    }

    private static void Report(TextWriter o, QuantizeRequest request, QuantizationResult result, CalibrationSet calibration, string? manifestOut)
    {
        o.WriteLine($"quantized {request.Input} -> {request.Output}");
        var how = request.Method == CalibrationMethod.MinMax ? "minmax" : $"percentile {request.Percentile}";
        o.WriteLine($"  calibration   {how} over {result.CalibrationInputs} images from {request.CalibrationDirectory}" +
            (calibration.Skipped.Count > 0 ? $" ({calibration.Skipped.Count} unreadable skipped)" : ""));
        o.WriteLine($"  size          {Megabytes(result.SizeBefore)} -> {Megabytes(result.SizeAfter)} ({(double)result.SizeAfter / result.SizeBefore:P1})");
        var quantized = result.Plan.Quantized.GroupBy(q => q.Node.OpType).Select(g => $"{g.Count()} {g.Key}");
        o.WriteLine($"  quantized     {string.Join(", ", quantized)}; {result.Plan.FoldedRelus.Count} Relu folded into their producer; " +
            $"{result.Plan.PassThrough.Count} data-movement ops kept in int8");
        o.WriteLine($"  left in float {result.Plan.LeftInFloat.Count} nodes:");
        foreach (var group in result.Plan.LeftInFloat.GroupBy(f => (f.OpType, f.Reason)))
        {
            o.WriteLine($"    {group.Count(),3} x {group.Key.OpType}: {group.Key.Reason}");
            foreach (var node in group.Take(3))
            {
                o.WriteLine($"          {node.Name}");
            }

            if (group.Count() > 3)
            {
                o.WriteLine($"          ... and {group.Count() - 3} more");
            }
        }

        if (result.HeadDecision is not null)
        {
            o.WriteLine($"  logits layer  {result.HeadDecision}");
        }

        o.WriteLine($"  ORT fused     {string.Join(", ", result.FusedOps.Select(kv => $"{kv.Key} {kv.Value}"))}");
        o.WriteLine($"  vs FP32       top-1 agreement {result.Agreement.Top1Rate:P1} ({result.Agreement.Top1Agreements}/{result.Agreement.Inputs}), " +
            $"max |logit diff| {result.Agreement.MaxAbsLogitDiff:G3}, mean {result.Agreement.MeanAbsLogitDiff:G3} (calibration images)");
        o.WriteLine(manifestOut is null ? "  manifest      none written (no input manifest)" : $"  manifest      {manifestOut}");
    }

    private static string Megabytes(long bytes) => $"{bytes / 1e6:F3} MB";
}
