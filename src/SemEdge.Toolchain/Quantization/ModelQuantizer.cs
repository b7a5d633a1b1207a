using Google.Protobuf;
using SemEdge.Toolchain.Onnx;

namespace SemEdge.Toolchain.Quantization;

internal sealed record QuantizationResult(
    long SizeBefore,
    long SizeAfter,
    QuantizationPlan Plan,
    IReadOnlyDictionary<string, int> FusedOps,
    int CalibrationInputs,
    Agreement Agreement,
    string? HeadDecision);

/// <summary>
/// Static post-training quantization of an FP32 ONNX model to INT8 QDQ: plan, calibrate, rewrite, then check
/// what ORT fuses and how closely the result follows the original.
/// </summary>
internal sealed class ModelQuantizer(CalibrationMethod method, double percentile)
{
    public QuantizationResult Quantize(string inputPath, string outputPath, IReadOnlyList<float[]> calibration,
        long[] inputShape, CancellationToken cancellationToken)
    {
        var fp32Bytes = File.ReadAllBytes(inputPath);
        var fp32 = OnnxModelFile.Parse(fp32Bytes);
        var plan = QuantizationPlanner.Plan(fp32);

        // Ranges for every activation tensor the full plan touches; plans that keep more in float need a subset.
        var calibrator = new ActivationCalibrator(method, percentile);
        var ranges = calibrator.Calibrate(fp32, plan.Activations, calibration, inputShape, cancellationToken);

        var quantized = QdqRewriter.Apply(plan, ranges);
        var agreement = Agreement.Measure(fp32Bytes, quantized.ToByteArray(), calibration, inputShape, cancellationToken);

        // The layer that writes the logits decides the verdict directly; if quantizing it costs agreement with
        // FP32, it stays float (it is small: classes × features weights).
        string? headDecision = null;
        var head = plan.Quantized.FirstOrDefault(q => q.FloatOutput && q.Node.Output.Any(o => fp32.Graph.Output.Any(g => g.Name == o)));
        if (head is not null)
        {
            var headName = QuantizationPlanner.NodeName(head.Node);
            var floatHeadPlan = QuantizationPlanner.Plan(fp32, new Dictionary<string, string>
            {
                [headName] = "the final layer feeding the logits: kept float because quantizing it lowered agreement with FP32",
            });
            var floatHead = QdqRewriter.Apply(floatHeadPlan, ranges);
            var floatHeadAgreement = Agreement.Measure(fp32Bytes, floatHead.ToByteArray(), calibration, inputShape, cancellationToken);
            var better = floatHeadAgreement.Top1Agreements > agreement.Top1Agreements ||
                (floatHeadAgreement.Top1Agreements == agreement.Top1Agreements &&
                 floatHeadAgreement.MeanAbsLogitDiff < agreement.MeanAbsLogitDiff / 2);
            headDecision = $"{head.Node.OpType} '{headName}' quantized: top-1 {agreement.Top1Rate:P1}, mean |Δlogit| {agreement.MeanAbsLogitDiff:G3}; " +
                $"float: top-1 {floatHeadAgreement.Top1Rate:P1}, mean |Δlogit| {floatHeadAgreement.MeanAbsLogitDiff:G3} -> {(better ? "kept float" : "quantized")}";
            if (better)
            {
                plan = floatHeadPlan;
                quantized = floatHead;
                agreement = floatHeadAgreement;
            }
        }

        quantized.MetadataProps.Add(new StringStringEntryProto
        {
            Key = "semedge.quantization",
            Value = $"int8-qdq; activations uint8 per tensor ({(method == CalibrationMethod.MinMax ? "minmax" : $"percentile {percentile}")}, {calibration.Count} images); weights int8 symmetric per channel",
        });
        OnnxModelFile.Save(quantized, outputPath);
        return new QuantizationResult(
            fp32Bytes.Length,
            new FileInfo(outputPath).Length,
            plan,
            FusedNodeReport.Count(outputPath),
            calibration.Count,
            agreement,
            headDecision);
    }
}
