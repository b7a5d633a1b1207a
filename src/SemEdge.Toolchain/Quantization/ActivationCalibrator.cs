using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using SemEdge.Toolchain.Onnx;

namespace SemEdge.Toolchain.Quantization;

public enum CalibrationMethod
{
    /// <summary>The full observed range: nothing clips, but one outlier widens the step for every value.</summary>
    MinMax,

    /// <summary>Clips the rarest tail values (e.g. 0.01 % each side) for a finer step on the rest.</summary>
    Percentile,
}

/// <summary>
/// Observes the value range of intermediate tensors: runs a copy of the FP32 model, with those tensors
/// exposed as extra graph outputs, over every calibration input.
/// </summary>
internal sealed class ActivationCalibrator
{
    private const int HistogramBins = 2048;

    private readonly CalibrationMethod _method;
    private readonly double _percentile;

    public ActivationCalibrator(CalibrationMethod method, double percentile)
    {
        if (percentile is <= 50 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(percentile), percentile, "percentile must be in (50, 100]");
        }

        _method = method;
        _percentile = percentile;
    }

    public IReadOnlyDictionary<string, TensorRange> Calibrate(ModelProto model, IReadOnlyList<string> tensors,
        IReadOnlyList<float[]> inputs, long[] inputShape, CancellationToken cancellationToken)
    {
        if (inputs.Count == 0)
        {
            throw new QuantizationException("no calibration inputs");
        }

        using var session = CreateObservingSession(model, tensors, out var inputName);
        var ranges = new Dictionary<string, TensorRange>(StringComparer.Ordinal);
        RunAll(session, inputName, tensors, inputs, inputShape, cancellationToken, (name, values) =>
        {
            var range = MinMax(values);
            ranges[name] = ranges.TryGetValue(name, out var seen) ? seen.Union(range) : range;
        });

        if (_method == CalibrationMethod.MinMax)
        {
            return ranges;
        }

        // Second pass: histograms over each tensor's now known full range, then the percentile cut.
        var histograms = tensors.ToDictionary(t => t, _ => new long[HistogramBins], StringComparer.Ordinal);
        RunAll(session, inputName, tensors, inputs, inputShape, cancellationToken, (name, values) =>
        {
            var range = ranges[name];
            var width = range.Max - range.Min;
            var counts = histograms[name];
            foreach (var v in values)
            {
                var bin = width > 0 ? (int)((v - range.Min) / width * HistogramBins) : 0;
                counts[Math.Clamp(bin, 0, HistogramBins - 1)]++;
            }
        });

        return ranges.ToDictionary(r => r.Key, r => Cut(r.Value, histograms[r.Key]), StringComparer.Ordinal);
    }

    /// <summary>The range [q(100 − p), q(p)] read from a histogram over [min, max].</summary>
    internal TensorRange Cut(TensorRange full, long[] counts)
    {
        var total = counts.Sum();
        var tail = total * (100 - _percentile) / 100;
        var width = (full.Max - full.Min) / counts.Length;
        long cumulative = 0;
        var low = 0;
        while (low < counts.Length - 1 && cumulative + counts[low] <= tail)
        {
            cumulative += counts[low++];
        }

        cumulative = 0;
        var high = counts.Length - 1;
        while (high > low && cumulative + counts[high] <= tail)
        {
            cumulative += counts[high--];
        }

        return new TensorRange(full.Min + low * width, full.Min + (high + 1) * width);
    }

    private static InferenceSession CreateObservingSession(ModelProto model, IReadOnlyList<string> tensors, out string inputName)
    {
        var observed = model.Clone();
        var graph = observed.Graph;
        var initializers = graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var feeds = graph.Input.Where(i => !initializers.Contains(i.Name)).ToList();
        if (feeds.Count != 1)
        {
            throw new QuantizationException($"the model has {feeds.Count} runtime inputs; calibration needs exactly one image input");
        }

        inputName = feeds[0].Name;
        var outputs = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var tensor in tensors.Where(t => !outputs.Contains(t)))
        {
            graph.Output.Add(new ValueInfoProto
            {
                Name = tensor,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
            });
        }

        // Basic optimisations only: nothing may fuse away a tensor we want to observe.
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC };
        return new InferenceSession(observed.ToByteArray(), options);
    }

    private static void RunAll(InferenceSession session, string inputName, IReadOnlyList<string> tensors,
        IReadOnlyList<float[]> inputs, long[] inputShape, CancellationToken cancellationToken, Action<string, ReadOnlySpan<float>> observe)
    {
        using var runOptions = new RunOptions();
        string[] inputNames = [inputName];
        foreach (var input in inputs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var value = OrtValue.CreateTensorValueFromMemory(input, inputShape);
            using var results = session.Run(runOptions, inputNames, [value], tensors);
            var i = 0;
            foreach (var result in results)
            {
                observe(tensors[i++], result.GetTensorDataAsSpan<float>());
            }
        }
    }

    private static TensorRange MinMax(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty)
        {
            return new TensorRange(0, 0);
        }

        var min = float.PositiveInfinity;
        var max = float.NegativeInfinity;
        foreach (var v in values)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }

        return new TensorRange(min, max);
    }
}
