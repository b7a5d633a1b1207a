using Microsoft.ML.OnnxRuntime;
using SemEdge.Inference;
using SemEdge.Toolchain.Onnx;
using SemEdge.Toolchain.Quantization;

namespace SemEdge.Tests.Toolchain.Quantization;

public class QuantizerTests(QuantizedMobileNet mobileNet) : IClassFixture<QuantizedMobileNet>
{
    [Fact]
    public void Quantized_mobilenet_loads_in_ort_is_much_smaller_and_follows_fp32()
    {
        using var fp32 = new InferenceSession(ToolchainFixtures.Mnv3);
        using var int8 = new InferenceSession(mobileNet.OutputPath);
        var agreements = 0;
        var maxDiff = 0f;
        foreach (var input in mobileNet.Inputs)
        {
            var a = Agreement.Logits(fp32, input, ToolchainFixtures.InputShape);
            var b = Agreement.Logits(int8, input, ToolchainFixtures.InputShape);
            agreements += LogitMath.ArgMax(a) == LogitMath.ArgMax(b) ? 1 : 0;
            maxDiff = Math.Max(maxDiff, a.Zip(b, (x, y) => Math.Abs(x - y)).Max());
        }

        // The fixture is the width-0.25 network, where per-tensor overhead (scales, names) is a larger share
        // than in the full model (see Full_size_mobilenet...); its weights alone shrink 4x.
        var ratio = (double)new FileInfo(mobileNet.OutputPath).Length / new FileInfo(ToolchainFixtures.Mnv3).Length;
        Assert.True(ratio < 0.6, $"INT8 is {ratio:P1} of FP32");
        Assert.True(agreements >= mobileNet.Inputs.Count - 2, $"top-1 agreement {agreements}/{mobileNet.Inputs.Count}");
        Assert.True(maxDiff < 2.5f, $"max logit diff {maxDiff}");
        Assert.Equal(agreements, mobileNet.Result.Agreement.Top1Agreements);
    }

    [Fact]
    public void Conv_weights_get_one_symmetric_scale_per_output_channel()
    {
        var source = OnnxModelFile.Load(ToolchainFixtures.Mnv3).Graph.Initializer.ToDictionary(i => i.Name);
        var quantized = OnnxModelFile.Load(mobileNet.OutputPath).Graph;
        var initializers = quantized.Initializer.ToDictionary(i => i.Name);
        var producers = quantized.Node.SelectMany(n => n.Output.Select(o => (o, n))).ToDictionary(p => p.o, p => p.n);
        var convs = quantized.Node.Where(n => n.OpType == "Conv").ToList();
        Assert.Equal(52, convs.Count);
        foreach (var conv in convs)
        {
            var dq = producers[conv.Input[1]];
            Assert.Equal("DequantizeLinear", dq.OpType);
            Assert.Equal(0, dq.GetInt("axis", -99));
            var q = initializers[dq.Input[0]];
            Assert.Equal((int)TensorProto.Types.DataType.Int8, q.DataType);
            var scales = OnnxTensors.ToFloats(initializers[dq.Input[1]]);
            var original = source[q.Name[..^"_q".Length]];
            var weights = OnnxTensors.ToFloats(original);
            Assert.Equal(original.Dims[0], scales.Length);
            var perChannel = weights.Length / scales.Length;
            var values = q.RawData.ToArray().Select(b => (sbyte)b).ToArray();
            for (var c = 0; c < scales.Length; c++)
            {
                var channel = weights.AsSpan(c * perChannel, perChannel);
                var absMax = 0f;
                foreach (var w in channel)
                {
                    absMax = Math.Max(absMax, Math.Abs(w));
                }

                Assert.Equal(absMax / 127f, scales[c], 6);
                for (var i = 0; i < perChannel; i++)
                {
                    // Dequantized weight within half a step of the original.
                    Assert.True(Math.Abs(values[c * perChannel + i] * scales[c] - channel[i]) <= scales[c] * 0.5f + 1e-7f);
                }
            }
        }
    }

    [Fact]
    public void Conv_bias_is_int32_with_input_scale_times_weight_scale()
    {
        var graph = OnnxModelFile.Load(mobileNet.OutputPath).Graph;
        var initializers = graph.Initializer.ToDictionary(i => i.Name);
        var producers = graph.Node.SelectMany(n => n.Output.Select(o => (o, n))).ToDictionary(p => p.o, p => p.n);
        var checkedBiases = 0;
        foreach (var conv in graph.Node.Where(n => n.OpType == "Conv" && n.Input.Count > 2))
        {
            var inputScale = OnnxTensors.ToFloats(initializers[producers[conv.Input[0]].Input[1]])[0];
            var weightScales = OnnxTensors.ToFloats(initializers[producers[conv.Input[1]].Input[1]]);
            var biasDq = producers[conv.Input[2]];
            Assert.Equal((int)TensorProto.Types.DataType.Int32, initializers[biasDq.Input[0]].DataType);
            var biasScales = OnnxTensors.ToFloats(initializers[biasDq.Input[1]]);
            for (var c = 0; c < weightScales.Length; c++)
            {
                Assert.Equal(inputScale * weightScales[c], biasScales[c], 9);
            }

            checkedBiases++;
        }

        Assert.Equal(52, checkedBiases);
    }

    [Fact]
    public void Ort_fuses_the_qdq_groups_into_quantized_kernels()
    {
        var fused = mobileNet.Result.FusedOps;
        Assert.Equal(52, fused.GetValueOrDefault("QLinearConv"));
        Assert.Equal(7, fused.GetValueOrDefault("QLinearAdd"));
        Assert.Equal(9, fused.GetValueOrDefault("QLinearMul"));
        Assert.Equal(10, fused.GetValueOrDefault("QLinearGlobalAveragePool"));
        Assert.Equal(2, fused.GetValueOrDefault("QGemm"));
        Assert.False(fused.ContainsKey("Conv"), "a float Conv survived");
    }

    [Fact]
    public void Ops_without_a_qdq_fusion_are_left_in_float_and_listed()
    {
        var left = mobileNet.Result.Plan.LeftInFloat;
        Assert.Equal(19, left.Count(f => f.OpType == "HardSwish"));
        Assert.Equal(9, left.Count(f => f.OpType == "HardSigmoid"));
        Assert.All(left, f => Assert.False(string.IsNullOrWhiteSpace(f.Reason)));
        Assert.Equal(14, mobileNet.Result.Plan.FoldedRelus.Count);
        Assert.DoesNotContain(OnnxModelFile.Load(mobileNet.OutputPath).Graph.Node, n => n.OpType == "Relu");
    }

    [Fact]
    public void A_relu_folded_into_its_conv_quantizes_with_zero_point_zero()
    {
        var graph = OnnxModelFile.Load(mobileNet.OutputPath).Graph;
        var initializers = graph.Initializer.ToDictionary(i => i.Name);
        var consumers = graph.Node.SelectMany(n => n.Input.Select(i => (i, n))).ToLookup(p => p.i, p => p.n);
        // Each folded Relu's output tensor is now written by its Conv and read only by a QuantizeLinear.
        var foldedOutputs = OnnxModelFile.Load(ToolchainFixtures.Mnv3).Graph.Node.Where(n => n.OpType == "Relu").Select(n => n.Output[0]);
        foreach (var tensor in foldedOutputs)
        {
            var quantize = Assert.Single(consumers[tensor]);
            Assert.Equal("QuantizeLinear", quantize.OpType);
            Assert.Equal(0, initializers[quantize.Input[2]].RawData[0]);
        }
    }

    [Fact]
    public void Plain_cnn_with_a_matmul_head_quantizes_and_agrees()
    {
        using var temp = new TempFolder();
        var inputs = ToolchainFixtures.LoadInputs();
        var result = new ModelQuantizer(CalibrationMethod.MinMax, 99.99)
            .Quantize(ToolchainFixtures.Plain, temp.Combine("plain.int8.onnx"), inputs, ToolchainFixtures.InputShape, CancellationToken.None);

        Assert.Equal(3, result.FusedOps.GetValueOrDefault("QLinearConv"));
        Assert.Equal(1, result.FusedOps.GetValueOrDefault("QLinearAdd"));
        Assert.Equal(3, result.Plan.FoldedRelus.Count);
        // MaxPool and Flatten keep int8 with their input's parameters.
        Assert.Contains(result.Plan.PassThrough, n => n.OpType == "MaxPool");
        var graph = OnnxModelFile.Load(temp.Combine("plain.int8.onnx")).Graph;
        var matmul = graph.Node.Single(n => n.OpType == "MatMul");
        var dq = graph.Node.Single(n => n.Output[0] == matmul.Input[1]);
        Assert.Equal(1, dq.GetInt("axis", -1));
        Assert.Contains(result.Plan.LeftInFloat, f => f.OpType == "Add");
        Assert.Equal(inputs.Count, result.Agreement.Top1Agreements);
        using var fp32 = new InferenceSession(ToolchainFixtures.Plain);
        var largest = inputs.Max(i => Agreement.Logits(fp32, i, ToolchainFixtures.InputShape).Max(Math.Abs));
        Assert.True(result.Agreement.MaxAbsLogitDiff < 0.05f * largest, $"max diff {result.Agreement.MaxAbsLogitDiff} of logits up to {largest}");
    }
}
