using SemEdge.Toolchain.Onnx;

namespace SemEdge.Toolchain.Quantization;

/// <summary>
/// Applies a <see cref="QuantizationPlan"/> with calibrated ranges: inserts QuantizeLinear/DequantizeLinear
/// pairs on activations (uint8, per tensor), replaces weights by int8 per-channel constants behind a
/// DequantizeLinear and biases by int32 constants (scale = input scale × weight scale). ORT's CPU provider
/// then fuses DQ → op → Q groups into QLinearConv, QGemm, QLinearAdd and friends.
/// </summary>
internal static class QdqRewriter
{
    // Generated names are the source tensor's name plus a short suffix (_q, _dq, _s, _zp) and Q/DQ nodes are
    // unnamed: exporters' tensor names are long paths, and every byte counts toward the board's model budget.
    public static ModelProto Apply(QuantizationPlan plan, IReadOnlyDictionary<string, TensorRange> ranges)
    {
        var model = plan.Model.Clone();
        var graph = model.Graph;
        var index = new GraphIndex(graph);
        var names = new UniqueNames(index.AllNames());

        var activation = new Dictionary<string, ActivationQuantization>(StringComparer.Ordinal);
        foreach (var tensor in plan.Activations)
        {
            var source = plan.SharedWith.GetValueOrDefault(tensor, tensor);
            if (!ranges.TryGetValue(source, out var range))
            {
                throw new QuantizationException($"no calibration range for tensor '{source}'");
            }

            activation[tensor] = ActivationQuantization.FromRange(range);
        }

        var weightNodes = new List<NodeProto>();
        var newInitializers = new List<TensorProto>();
        var weightCache = new Dictionary<(string, int), (string Output, ChannelQuantizedWeight Weight)>();

        // Clone() gave new node objects; find each planned node by position in the cloned graph.
        var planned = new Dictionary<NodeProto, int>(ReferenceEqualityComparer.Instance);
        for (var i = 0; i < plan.Model.Graph.Node.Count; i++)
        {
            planned[plan.Model.Graph.Node[i]] = i;
        }

        foreach (var q in plan.Quantized.Where(q => q.Weight is not null))
        {
            var node = graph.Node[planned[q.Node]];
            var weightName = q.Weight!;
            if (!weightCache.TryGetValue((weightName, q.WeightAxis), out var quantizedWeight))
            {
                var source = index.Initializers[weightName];
                var weight = ChannelQuantizedWeight.Quantize(OnnxTensors.ToFloats(source), source.Dims, q.WeightAxis);
                var output = DequantizeConstant(weightName, weight.Axis,
                    OnnxTensors.FromInt8(names.Take(weightName + "_q"), weight.Values, [.. source.Dims]),
                    weight.Scales, zeroPoint: OnnxTensors.FromInt8(names.Take(weightName + "_zp"), new sbyte[weight.Scales.Length], ScaleDims(weight)),
                    names, newInitializers, weightNodes);
                weightCache[(weightName, q.WeightAxis)] = quantizedWeight = (output, weight);
            }

            node.Input[1] = quantizedWeight.Output;
            if (q.Bias is not null)
            {
                var inputScale = activation[node.Input[0]].Scale;
                var (values, scales) = quantizedWeight.Weight.QuantizeBias(OnnxTensors.ToFloats(index.Initializers[q.Bias]), inputScale);
                var biasName = names.Take(q.Bias + "_q");
                node.Input[2] = DequantizeConstant(q.Bias, 0,
                    OnnxTensors.FromInt32(biasName, values, values.Length),
                    scales, zeroPoint: OnnxTensors.FromInt32(names.Take(q.Bias + "_zp"), new int[values.Length], values.Length),
                    names, newInitializers, weightNodes);
            }
        }

        // Every reader of a quantized activation reads the DequantizeLinear output, so that the producer's
        // only consumer is the QuantizeLinear, the shape ORT's fusion looks for.
        var qdq = new Dictionary<string, (NodeProto Q, NodeProto Dq)>(StringComparer.Ordinal);
        foreach (var tensor in plan.Activations)
        {
            var p = activation[tensor];
            var scale = OnnxTensors.FromFloats(names.Take(tensor + "_s"), [p.Scale]);
            var zeroPoint = OnnxTensors.FromUInt8(names.Take(tensor + "_zp"), [p.ZeroPoint]);
            newInitializers.Add(scale);
            newInitializers.Add(zeroPoint);
            var quantized = names.Take(tensor + "_q");
            var dequantized = names.Take(tensor + "_dq");
            var quantize = new NodeProto { OpType = "QuantizeLinear" };
            quantize.Input.Add([tensor, scale.Name, zeroPoint.Name]);
            quantize.Output.Add(quantized);
            var dequantize = new NodeProto { OpType = "DequantizeLinear" };
            dequantize.Input.Add([quantized, scale.Name, zeroPoint.Name]);
            dequantize.Output.Add(dequantized);
            qdq[tensor] = (quantize, dequantize);
        }

        foreach (var node in graph.Node)
        {
            for (var i = 0; i < node.Input.Count; i++)
            {
                if (qdq.TryGetValue(node.Input[i], out var pair))
                {
                    node.Input[i] = pair.Dq.Output[0];
                }
            }
        }

        // Rebuild the node list in topological order: constants' DequantizeLinear first, then each Q/DQ pair
        // straight after the node that produces its tensor (or at the start for a graph input).
        var nodes = new List<NodeProto>(weightNodes);
        foreach (var input in graph.Input.Select(i => i.Name).Where(qdq.ContainsKey))
        {
            nodes.Add(qdq[input].Q);
            nodes.Add(qdq[input].Dq);
        }

        foreach (var node in graph.Node)
        {
            nodes.Add(node);
            foreach (var output in node.Output.Where(qdq.ContainsKey))
            {
                nodes.Add(qdq[output].Q);
                nodes.Add(qdq[output].Dq);
            }
        }

        graph.Node.Clear();
        graph.Node.Add(nodes);
        graph.Initializer.Add(newInitializers);
        RemoveUnused(graph);
        return model;
    }

    private static long[] ScaleDims(ChannelQuantizedWeight weight) => weight.Axis < 0 ? [] : [weight.Scales.Length];

    private static string DequantizeConstant(string original, int axis, TensorProto quantized, float[] scales,
        TensorProto zeroPoint, UniqueNames names, List<TensorProto> initializers, List<NodeProto> nodes)
    {
        var perChannel = axis >= 0;
        var scale = perChannel
            ? OnnxTensors.FromFloats(names.Take(original + "_s"), scales, scales.Length)
            : OnnxTensors.FromFloats(names.Take(original + "_s"), scales);
        if (!perChannel)
        {
            zeroPoint.Dims.Clear();
        }

        initializers.Add(quantized);
        initializers.Add(scale);
        initializers.Add(zeroPoint);
        var dequantize = new NodeProto { OpType = "DequantizeLinear" };
        dequantize.Input.Add([quantized.Name, scale.Name, zeroPoint.Name]);
        dequantize.Output.Add(names.Take(original + "_dq"));
        if (perChannel)
        {
            dequantize.Attribute.Add(OnnxAttributes.IntAttribute("axis", axis));
        }

        nodes.Add(dequantize);
        return dequantize.Output[0];
    }

    /// <summary>Drops float weights no node reads any more, and value_info for tensors that no longer exist.</summary>
    private static void RemoveUnused(GraphProto graph)
    {
        var used = graph.Node.SelectMany(n => n.Input).Concat(graph.Output.Select(o => o.Name)).ToHashSet(StringComparer.Ordinal);
        var produced = graph.Node.SelectMany(n => n.Output).ToHashSet(StringComparer.Ordinal);
        var removed = graph.Initializer.Where(i => !used.Contains(i.Name)).ToList();
        foreach (var initializer in removed)
        {
            graph.Initializer.Remove(initializer);
        }

        // Old exporters list weights as graph inputs too; a removed weight must leave the input list.
        var removedNames = removed.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var input in graph.Input.Where(i => removedNames.Contains(i.Name)).ToList())
        {
            graph.Input.Remove(input);
        }

        foreach (var info in graph.ValueInfo.Where(v => !produced.Contains(v.Name)).ToList())
        {
            graph.ValueInfo.Remove(info);
        }
    }

    /// <summary>Hands out tensor and node names that do not collide with any name already in the graph.</summary>
    private sealed class UniqueNames(HashSet<string> taken)
    {
        public string Take(string wanted)
        {
            var name = wanted;
            for (var n = 1; !taken.Add(name); n++)
            {
                name = $"{wanted}_{n}";
            }

            return name;
        }
    }
}
