using System.Numerics.Tensors;

namespace SemEdge.Inference;

/// <summary>
/// The arithmetic on a model's output that the daemon, the quantizer's agreement check and the parity check share,
/// in one place and on <see cref="TensorPrimitives"/> (vectorised, and the same answer everywhere).
/// </summary>
public static class LogitMath
{
    /// <summary>The index of the largest value, the first on ties (the top class).</summary>
    public static int ArgMax(ReadOnlySpan<float> values) => values.IsEmpty ? 0 : TensorPrimitives.IndexOfMax(values);

    /// <summary>
    /// Softmax of logits × <paramref name="inverseTemperature"/> (temperature scaling) into
    /// <paramref name="probabilities"/>; returns the top class. The maximum is subtracted first, so large logits
    /// cannot overflow <c>exp</c> (TensorPrimitives.SoftMax alone does not do this).
    /// </summary>
    public static int Softmax(ReadOnlySpan<float> logits, Span<float> probabilities, float inverseTemperature)
    {
        var best = ArgMax(logits);
        if (logits.IsEmpty)
        {
            return best;
        }

        var shifted = probabilities[..logits.Length];
        TensorPrimitives.Subtract(logits, logits[best], shifted);
        TensorPrimitives.Multiply(shifted, inverseTemperature, shifted);
        TensorPrimitives.SoftMax(shifted, shifted);
        return best;
    }
}
