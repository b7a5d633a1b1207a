using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using SemEdge.Toolchain.Onnx;
using SemEdge.Toolchain.Quantization;

namespace SemEdge.Tests.Toolchain.Quantization;

public class GraphQuantizationTests
{
    [Theory]
    [InlineData(1, 0)]
    [InlineData(0, 1)]
    public void Gemm_weight_scales_run_along_the_output_axis_for_either_transB(int transB, int expectedAxis)
    {
        using var temp = new TempFolder();
        var b = new float[] { 0.5f, -2f, 0.25f, 1f, 4f, -0.125f, 3f, 0.75f, -1.5f, 2.5f, -0.5f, 1.25f };
        // transB = 1: B is [N=3, K=4]; transB = 0: B is [K=4, N=3]. Same numbers, different layout.
        long[] dims = transB == 1 ? [3, 4] : [4, 3];
        var model = SingleOpModel("Gemm", [1, 4], [1, 3], OnnxTensors.FromFloats("B", b, dims), OnnxTensors.FromFloats("C", [0.1f, -0.2f, 0.3f], 3));
        model.Graph.Node[0].Attribute.Add(OnnxAttributes.IntAttribute("transB", transB));
        var path = temp.Combine("gemm.onnx");
        OnnxModelFile.Save(model, path);
        var inputs = Enumerable.Range(0, 8).Select(i => new float[] { i * 0.1f, -i * 0.2f, 1f - i * 0.1f, 0.3f }).ToList();

        // Planner and rewriter directly: the full quantizer would keep a lone logits layer float (next test).
        var plan = QuantizationPlanner.Plan(model);
        var ranges = new ActivationCalibrator(CalibrationMethod.MinMax, 99.99).Calibrate(model, plan.Activations, inputs, [1, 4], CancellationToken.None);
        var quantized = QdqRewriter.Apply(plan, ranges);
        OnnxModelFile.Save(quantized, temp.Combine("q.onnx"));

        var graph = OnnxModelFile.Load(temp.Combine("q.onnx")).Graph;
        var init = graph.Initializer.ToDictionary(i => i.Name);
        var dq = graph.Node.Single(n => n.OpType == "DequantizeLinear" && n.Output[0] == graph.Node.Single(g => g.OpType == "Gemm").Input[1]);
        Assert.Equal(expectedAxis, dq.GetInt("axis", -1));
        var scales = OnnxTensors.ToFloats(init[dq.Input[1]]);
        Assert.Equal(3, scales.Length);
        for (var n = 0; n < 3; n++)
        {
            var column = Enumerable.Range(0, 4).Select(k => transB == 1 ? b[n * 4 + k] : b[k * 3 + n]);
            Assert.Equal(column.Max(Math.Abs) / 127f, scales[n], 6);
        }

        // The logits stay float: QGemm with a float output, no QuantizeLinear after the Gemm.
        Assert.Contains("QGemm", FusedNodeReport.Count(temp.Combine("q.onnx")).Keys);
        Assert.DoesNotContain(graph.Node, n => n.OpType == "QuantizeLinear" && n.Input[0] == "y");
        var agreement = Agreement.Measure(model.ToByteArray(), quantized.ToByteArray(), inputs, [1, 4], CancellationToken.None);
        Assert.True(agreement.MaxAbsLogitDiff < 0.05f, $"max diff {agreement.MaxAbsLogitDiff}");
    }

    [Fact]
    public void A_logits_layer_that_only_loses_accuracy_when_quantized_stays_float()
    {
        using var temp = new TempFolder();
        var b = Enumerable.Range(0, 12).Select(i => MathF.Sin(i * 1.7f)).ToArray();
        var model = SingleOpModel("Gemm", [1, 4], [1, 3], OnnxTensors.FromFloats("B", b, 3, 4), null);
        model.Graph.Node[0].Attribute.Add(OnnxAttributes.IntAttribute("transB", 1));
        OnnxModelFile.Save(model, temp.Combine("gemm.onnx"));
        var inputs = Enumerable.Range(0, 8).Select(i => new float[] { MathF.Cos(i), i * 0.05f, -0.3f, MathF.Sin(i) }).ToList();

        var result = new ModelQuantizer(CalibrationMethod.MinMax, 99.99)
            .Quantize(temp.Combine("gemm.onnx"), temp.Combine("q.onnx"), inputs, [1, 4], CancellationToken.None);

        Assert.Contains("kept float", result.HeadDecision);
        Assert.Contains(result.Plan.LeftInFloat, f => f.OpType == "Gemm" && f.Reason.Contains("logits"));
        Assert.Equal(0f, result.Agreement.MaxAbsLogitDiff);
    }

    [Theory]
    [InlineData("mnv3.onnx")]
    [InlineData("plain.onnx")]
    public void An_unmodified_model_round_trips_byte_for_byte(string name)
    {
        var bytes = File.ReadAllBytes(Path.Combine(ToolchainFixtures.Dir, name));
        Assert.Equal(bytes, OnnxModelFile.Parse(bytes).ToByteArray());
    }

    [Fact]
    public void Fields_outside_the_schema_subset_survive_a_rewrite()
    {
        var bytes = File.ReadAllBytes(ToolchainFixtures.Plain);
        // ModelProto.functions (field 25, length-delimited) is not in our schema: append one raw.
        byte[] unknown = [0xCA, 0x01, 3, 0x0A, 0x01, (byte)'f'];
        var withUnknown = bytes.Concat(unknown).ToArray();
        var model = OnnxModelFile.Parse(withUnknown);
        model.ProducerName = "edited";
        var rewritten = model.ToByteArray();
        Assert.True(rewritten.AsSpan().IndexOf(unknown) >= 0, "the unknown field was dropped");
        using var session = new InferenceSession(OnnxModelFile.Parse(bytes).ToByteArray());
        Assert.Equal("image", session.InputNames[0]);
    }

    [Fact]
    public void Old_opsets_are_refused_with_the_reason()
    {
        var model = SingleOpModel("Gemm", [1, 4], [1, 3], OnnxTensors.FromFloats("B", new float[12], 3, 4), null);
        model.OpsetImport[0].Version = 11;
        var ex = Assert.Throws<QuantizationException>(() => QuantizationPlanner.Plan(model));
        Assert.Contains("opset 11", ex.Message);
    }

    internal static ModelProto SingleOpModel(string op, long[] inputShape, long[] outputShape, TensorProto weight, TensorProto? bias)
    {
        var node = new NodeProto { OpType = op, Name = op + "_0" };
        node.Input.Add(["x", weight.Name]);
        if (bias is not null)
        {
            node.Input.Add(bias.Name);
        }

        node.Output.Add("y");
        var graph = new GraphProto { Name = "single" };
        graph.Node.Add(node);
        graph.Initializer.Add(weight);
        if (bias is not null)
        {
            graph.Initializer.Add(bias);
        }

        graph.Input.Add(FloatValue("x", inputShape));
        graph.Output.Add(FloatValue("y", outputShape));
        var model = new ModelProto { IrVersion = 8, Graph = graph, ProducerName = "semedge-test" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return model;
    }

    private static ValueInfoProto FloatValue(string name, long[] shape)
    {
        var tensorShape = new TensorShapeProto();
        tensorShape.Dim.Add(shape.Select(d => new TensorShapeProto.Types.Dimension { DimValue = d }));
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = tensorShape } },
        };
    }
}
