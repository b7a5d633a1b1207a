using SemEdge.Toolchain.Onnx;

namespace SemEdge.Toolchain.Quantization;

/// <summary>A node that gets QDQ treatment: its weight (if any) is quantized per channel, its bias to int32.</summary>
internal sealed record QuantizedNode(NodeProto Node, string? Weight, int WeightAxis, string? Bias, bool FloatOutput);

/// <summary>A node left in float, and why (printed by <c>semedge quantize</c>).</summary>
internal sealed record FloatNode(string Name, string OpType, string Reason);

/// <summary>
/// What the quantizer will do to a model, decided from the graph alone (before calibration): which nodes are
/// quantized, which Relus fold into their producer, which tensors get a QuantizeLinear/DequantizeLinear
/// pair and which of those share the parameters of another tensor instead of being calibrated.
/// </summary>
internal sealed class QuantizationPlan
{
    public required ModelProto Model { get; init; }

    public required IReadOnlyList<QuantizedNode> Quantized { get; init; }

    public required IReadOnlyList<NodeProto> PassThrough { get; init; }

    public required IReadOnlyList<string> FoldedRelus { get; init; }

    /// <summary>Every activation tensor that gets a Q/DQ pair, in graph order.</summary>
    public required IReadOnlyList<string> Activations { get; init; }

    /// <summary>Tensors whose parameters are copied from another tensor (data movement keeps the values).</summary>
    public required IReadOnlyDictionary<string, string> SharedWith { get; init; }

    public required IReadOnlyList<FloatNode> LeftInFloat { get; init; }

    /// <summary>The tensors the calibrator must observe.</summary>
    public IReadOnlyList<string> Calibrated => Activations.Where(a => !SharedWith.ContainsKey(a)).ToList();
}

/// <summary>Builds a <see cref="QuantizationPlan"/> for the ops ONNX Runtime's CPU provider fuses from QDQ.</summary>
internal static class QuantizationPlanner
{
    // Ops whose QDQ form ORT's CPU provider turns into a quantized kernel.
    private static readonly HashSet<string> FusedOps =
        ["Conv", "Gemm", "MatMul", "Add", "Mul", "GlobalAveragePool", "AveragePool"];

    // Ops that only move or select values: ORT drops the Q/DQ around them when both sides share parameters.
    private static readonly HashSet<string> DataMovementOps =
        ["Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose", "MaxPool", "GlobalMaxPool"];

    // Ops that are not computation worth listing.
    private static readonly HashSet<string> Bookkeeping = ["Constant", "Identity", "Shape", "Dropout"];

    private static readonly HashSet<string> FoldableReluProducers = ["Conv", "Gemm", "MatMul", "Add"];

    public const int MinimumOpset = 13;

    /// <param name="source">The FP32 model; not modified.</param>
    /// <param name="keepFloat">Node names to leave in float whatever their op, with the reason to print.</param>
    public static QuantizationPlan Plan(ModelProto source, IReadOnlyDictionary<string, string>? keepFloat = null)
    {
        keepFloat ??= new Dictionary<string, string>();
        var opset = source.OpsetImport.FirstOrDefault(o => string.IsNullOrEmpty(o.Domain) || o.Domain == "ai.onnx")?.Version ?? 0;
        if (opset < MinimumOpset)
        {
            throw new QuantizationException(
                $"the model imports ONNX opset {opset}; per-channel QDQ needs opset {MinimumOpset} or later (re-export with opset_version=17)");
        }

        var model = source.Clone();
        var graph = model.Graph ?? throw new QuantizationException("the model has no graph");
        var folded = FoldRelus(graph, keepFloat);
        var index = new GraphIndex(graph);

        var floats = new List<FloatNode>();
        var candidates = new List<QuantizedNode>();
        foreach (var node in graph.Node)
        {
            if (Bookkeeping.Contains(node.OpType) || DataMovementOps.Contains(node.OpType))
            {
                continue;
            }

            QuantizedNode? quantized = null;
            var reason = keepFloat.TryGetValue(NodeName(node), out var kept) ? kept : Classify(node, index, out quantized);
            if (quantized is not null)
            {
                candidates.Add(quantized);
            }
            else
            {
                floats.Add(new FloatNode(NodeName(node), node.OpType, reason!));
            }
        }

        // A fused kernel needs a QuantizeLinear on its output, but the graph output (the logits) stays float:
        // Gemm and MatMul have float-output forms (QGemm, MatMulIntegerToFloat); the rest run in float.
        var core = new List<QuantizedNode>();
        foreach (var q in candidates)
        {
            var producesGraphOutput = q.Node.Output.Any(index.GraphOutputs.Contains);
            if (producesGraphOutput && q.Node.OpType is not ("Gemm" or "MatMul"))
            {
                floats.Add(new FloatNode(NodeName(q.Node), q.Node.OpType, "produces a graph output, which stays float"));
                continue;
            }

            core.Add(q);
        }

        var coreNodes = core.Select(q => q.Node).ToHashSet(ReferenceEqualityComparer.Instance);
        var foldedOutputs = folded.Select(f => f.Output).ToHashSet(StringComparer.Ordinal);
        var activations = new List<string>();
        var activationSet = new HashSet<string>(StringComparer.Ordinal);
        void AddActivation(string name)
        {
            if (activationSet.Add(name))
            {
                activations.Add(name);
            }
        }

        var finalCore = new List<QuantizedNode>();
        foreach (var q in core)
        {
            foreach (var input in ActivationInputs(q.Node, index))
            {
                AddActivation(input);
            }

            var output = q.Node.Output[0];
            var floatOutput = index.GraphOutputs.Contains(output) ||
                (q.Node.OpType is "Gemm" or "MatMul" && !foldedOutputs.Contains(output) &&
                 !index.Consumers(output).Any(c => coreNodes.Contains(c) || DataMovementOps.Contains(c.OpType)));
            if (!floatOutput)
            {
                AddActivation(output);
            }

            finalCore.Add(q with { FloatOutput = floatOutput });
        }

        // Data movement after a quantized tensor stays quantized with the same parameters (in graph order, so
        // chains such as Flatten -> Reshape follow).
        var shared = new Dictionary<string, string>(StringComparer.Ordinal);
        var passThrough = new List<NodeProto>();
        foreach (var node in graph.Node.Where(n => DataMovementOps.Contains(n.OpType)))
        {
            var input = node.Input[0];
            var output = node.Output[0];
            var movable = node.Output.Count == 1 && activationSet.Contains(input) && !index.GraphOutputs.Contains(output);
            if (!movable)
            {
                floats.Add(new FloatNode(NodeName(node), node.OpType, "its input is not quantized"));
                continue;
            }

            passThrough.Add(node);
            shared[output] = shared.GetValueOrDefault(input, input);
            AddActivation(output);
        }

        // Graph order for the report; bookkeeping ops are not listed.
        var order = graph.Node.Select((n, i) => (NodeName(n), i)).ToDictionary(p => p.Item1, p => p.i);
        return new QuantizationPlan
        {
            Model = model,
            Quantized = finalCore,
            PassThrough = passThrough,
            FoldedRelus = folded.Select(f => f.Relu).ToList(),
            Activations = activations,
            SharedWith = shared,
            LeftInFloat = floats.OrderBy(f => order.GetValueOrDefault(f.Name)).ToList(),
        };
    }

    private static string? Classify(NodeProto node, GraphIndex index, out QuantizedNode? quantized)
    {
        quantized = null;
        switch (node.OpType)
        {
            case "Conv":
                if (!IsFloatInitializer(index, node.Input[1]))
                {
                    return "its weights are not constants";
                }

                var convBias = node.Input.Count > 2 && node.Input[2].Length > 0 ? node.Input[2] : null;
                if (convBias is not null && !IsFloatInitializer(index, convBias))
                {
                    return "its bias is not a constant";
                }

                quantized = new QuantizedNode(node, node.Input[1], 0, convBias, false);
                return null;

            case "Gemm":
                if (node.GetInt("transA", 0) != 0 || node.GetFloat("alpha", 1f) != 1f || node.GetFloat("beta", 1f) != 1f)
                {
                    return "transA, alpha or beta differ from the plain form QGemm takes";
                }

                if (!IsFloatInitializer(index, node.Input[1]) || index.Initializers[node.Input[1]].Dims.Count != 2)
                {
                    return "its weights are not a constant matrix";
                }

                var b = index.Initializers[node.Input[1]];
                var transB = node.GetInt("transB", 0) != 0;
                var n = transB ? b.Dims[0] : b.Dims[1];
                var gemmBias = node.Input.Count > 2 && node.Input[2].Length > 0 ? node.Input[2] : null;
                if (gemmBias is not null && (!IsFloatInitializer(index, gemmBias) ||
                    index.Initializers[gemmBias].Dims.Count != 1 || index.Initializers[gemmBias].Dims[0] != n))
                {
                    return "its bias is not one constant per output";
                }

                // Weight scales run along the output (N) axis: rows of B when transB = 1, columns otherwise.
                quantized = new QuantizedNode(node, node.Input[1], transB ? 0 : 1, gemmBias, false);
                return null;

            case "MatMul":
                if (index.IsConstant(node.Input[0]))
                {
                    return "its first operand is a constant";
                }

                if (IsFloatInitializer(index, node.Input[1]))
                {
                    // Per output column for a matrix; one scale when B is batched.
                    var axis = index.Initializers[node.Input[1]].Dims.Count == 2 ? 1 : -1;
                    quantized = new QuantizedNode(node, node.Input[1], axis, null, false);
                    return null;
                }

                if (index.IsConstant(node.Input[1]))
                {
                    return "its second operand is a non-float constant";
                }

                quantized = new QuantizedNode(node, null, -1, null, false);
                return null;

            case "Add" or "Mul":
                if (node.Input.Any(index.IsConstant))
                {
                    return "one operand is a constant (e.g. a bias add), which QLinearAdd/QLinearMul would round";
                }

                quantized = new QuantizedNode(node, null, -1, null, false);
                return null;

            case "GlobalAveragePool" or "AveragePool":
                quantized = new QuantizedNode(node, null, -1, null, false);
                return null;

            case "HardSigmoid":
                return "no QDQ fusion in ORT CPU; the squeeze-excite gate stays float for accuracy";
            case "HardSwish":
                return "no QDQ fusion in ORT CPU; runs in float between DequantizeLinear and QuantizeLinear";
            case "Softmax":
                return "probabilities stay float";
            case "Relu":
                return "not directly after a quantized Conv/Gemm/MatMul/Add it could fold into";
            default:
                return "no QDQ fusion for this op in ORT CPU";
        }
    }

    private static IEnumerable<string> ActivationInputs(NodeProto node, GraphIndex index) => node.OpType switch
    {
        "Conv" or "Gemm" or "GlobalAveragePool" or "AveragePool" => [node.Input[0]],
        "MatMul" when index.Initializers.ContainsKey(node.Input[1]) => [node.Input[0]],
        _ => node.Input.Where(i => i.Length > 0),
    };

    private static bool IsFloatInitializer(GraphIndex index, string name) =>
        index.Initializers.TryGetValue(name, out var t) && t.DataType == (int)TensorProto.Types.DataType.Float;

    /// <summary>
    /// Removes each Relu that directly follows a foldable producer whose output feeds nothing else: the
    /// producer then writes the Relu's output tensor, whose calibrated range starts at 0, so the uint8
    /// QuantizeLinear with zero point 0 clamps negatives exactly as the Relu did.
    /// </summary>
    private static List<(string Relu, string Output)> FoldRelus(GraphProto graph, IReadOnlyDictionary<string, string> keepFloat)
    {
        var index = new GraphIndex(graph);
        var folded = new List<(string, string)>();
        foreach (var relu in graph.Node.Where(n => n.OpType == "Relu").ToList())
        {
            var input = relu.Input[0];
            var producer = index.Producer(input);
            if (producer is null || !FoldableReluProducers.Contains(producer.OpType) || keepFloat.ContainsKey(NodeName(producer)) ||
                index.Consumers(input).Count != 1 || index.GraphOutputs.Contains(input) ||
                index.GraphOutputs.Contains(relu.Output[0]) ||
                Classify(producer, index, out _) is not null)
            {
                continue;
            }

            var slot = producer.Output.IndexOf(input);
            producer.Output[slot] = relu.Output[0];
            graph.Node.Remove(relu);
            var stale = graph.ValueInfo.FirstOrDefault(v => v.Name == input);
            if (stale is not null)
            {
                graph.ValueInfo.Remove(stale);
            }

            folded.Add((NodeName(relu), relu.Output[0]));
        }

        return folded;
    }

    public static string NodeName(NodeProto node) =>
        node.Name.Length > 0 ? node.Name : $"{node.OpType}({string.Join(",", node.Output)})";
}

/// <summary>The model cannot be quantized as asked; the message says why in a technician's words.</summary>
internal sealed class QuantizationException(string message) : Exception(message);
