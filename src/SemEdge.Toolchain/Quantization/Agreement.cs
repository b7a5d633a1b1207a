using Microsoft.ML.OnnxRuntime;
using SemEdge.Inference;

namespace SemEdge.Toolchain.Quantization;

/// <summary>How closely a quantized model follows its FP32 original on the same inputs.</summary>
internal sealed record Agreement(int Inputs, int Top1Agreements, float MaxAbsLogitDiff, float MeanAbsLogitDiff)
{
    public double Top1Rate => Inputs == 0 ? 0 : (double)Top1Agreements / Inputs;

    /// <summary>Runs both models (ORT defaults, i.e. fully optimised, as at run time) over every input.</summary>
    public static Agreement Measure(byte[] reference, byte[] candidate, IReadOnlyList<float[]> inputs, long[] inputShape,
        CancellationToken cancellationToken)
    {
        using var a = new InferenceSession(reference);
        using var b = new InferenceSession(candidate);
        var agreements = 0;
        var max = 0f;
        double sum = 0;
        long count = 0;
        foreach (var input in inputs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var x = Logits(a, input, inputShape);
            var y = Logits(b, input, inputShape);
            if (x.Length != y.Length)
            {
                throw new QuantizationException($"the models disagree on the output size ({x.Length} vs {y.Length})");
            }

            if (LogitMath.ArgMax(x) == LogitMath.ArgMax(y))
            {
                agreements++;
            }

            for (var i = 0; i < x.Length; i++)
            {
                var d = Math.Abs(x[i] - y[i]);
                max = Math.Max(max, d);
                sum += d;
                count++;
            }
        }

        return new Agreement(inputs.Count, agreements, max, count == 0 ? 0 : (float)(sum / count));
    }

    internal static float[] Logits(InferenceSession session, float[] input, long[] inputShape)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(input, inputShape);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [session.InputNames[0]], [value], [session.OutputNames[0]]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }
}
