namespace SemEdge.Toolchain.Quantization;

/// <summary>The observed value range of one activation tensor over the calibration images.</summary>
internal readonly record struct TensorRange(float Min, float Max)
{
    public TensorRange Union(TensorRange other) => new(Math.Min(Min, other.Min), Math.Max(Max, other.Max));
}

/// <summary>
/// Per-tensor uint8 asymmetric parameters for an activation. The range is widened to include 0 so that 0 is
/// exact (zero padding, and Relu folded into the producer: a range starting at 0 gives zero point 0, so the
/// quantizer's clamp at 0 is the Relu).
/// </summary>
internal readonly record struct ActivationQuantization(float Scale, byte ZeroPoint)
{
    public const int QMin = 0;
    public const int QMax = 255;

    public static ActivationQuantization FromRange(TensorRange range)
    {
        double min = Math.Min(0f, range.Min);
        double max = Math.Max(0f, range.Max);
        if (!double.IsFinite(min) || !double.IsFinite(max))
        {
            throw new InvalidDataException($"activation range [{range.Min}, {range.Max}] is not finite");
        }

        if (max - min < 1e-12)
        {
            // A tensor that is 0 on every calibration image: any scale represents it; 1 keeps bias scales sane.
            return new ActivationQuantization(1f, 0);
        }

        var scale = (float)((max - min) / (QMax - QMin));
        var zeroPoint = Math.Clamp((int)Math.Round(QMin - min / scale, MidpointRounding.ToEven), QMin, QMax);
        return new ActivationQuantization(scale, (byte)zeroPoint);
    }

    public byte Quantize(float value) =>
        (byte)Math.Clamp((int)Math.Round(value / Scale + ZeroPoint, MidpointRounding.ToEven), QMin, QMax);

    public float Dequantize(byte value) => (value - ZeroPoint) * Scale;
}

/// <summary>
/// Symmetric int8 weights with one scale per output channel: scale = max|w| / 127 and zero point 0. The range
/// [-127, 127] (not -128) keeps the grid symmetric, so a weight and its negation quantize alike.
/// </summary>
internal sealed class ChannelQuantizedWeight
{
    public const int QMax = 127;

    private ChannelQuantizedWeight(sbyte[] values, float[] scales, int axis)
    {
        Values = values;
        Scales = scales;
        Axis = axis;
    }

    public sbyte[] Values { get; }

    public float[] Scales { get; }

    /// <summary>The channel axis, or -1 for one scale over the whole tensor.</summary>
    public int Axis { get; }

    public static ChannelQuantizedWeight Quantize(ReadOnlySpan<float> weights, IReadOnlyList<long> dims, int axis)
    {
        var channels = axis < 0 ? 1 : (int)dims[axis];
        long inner = 1;
        for (var d = axis + 1; d < dims.Count && axis >= 0; d++)
        {
            inner *= dims[d];
        }

        if (axis < 0)
        {
            inner = weights.Length;
        }

        var scales = new float[channels];
        var absMax = new float[channels];
        for (var i = 0; i < weights.Length; i++)
        {
            var c = (int)(i / inner % channels);
            absMax[c] = Math.Max(absMax[c], Math.Abs(weights[i]));
        }

        for (var c = 0; c < channels; c++)
        {
            // An all-zero channel (pruned filter) quantizes to zeros under any scale; 1 avoids dividing by 0.
            scales[c] = absMax[c] > 0 ? absMax[c] / QMax : 1f;
        }

        var values = new sbyte[weights.Length];
        for (var i = 0; i < weights.Length; i++)
        {
            var c = (int)(i / inner % channels);
            values[i] = (sbyte)Math.Clamp((int)Math.Round(weights[i] / scales[c], MidpointRounding.ToEven), -QMax, QMax);
        }

        return new ChannelQuantizedWeight(values, scales, axis);
    }

    /// <summary>Bias as int32 with scale input_scale × weight_scale[c] and zero point 0, as QLinearConv/QGemm add it.</summary>
    public (int[] Values, float[] Scales) QuantizeBias(ReadOnlySpan<float> bias, float inputScale)
    {
        if (bias.Length != Scales.Length && Scales.Length != 1)
        {
            throw new InvalidDataException($"bias has {bias.Length} values but the weight has {Scales.Length} channels");
        }

        var values = new int[bias.Length];
        var scales = new float[bias.Length];
        for (var c = 0; c < bias.Length; c++)
        {
            scales[c] = inputScale * Scales[Scales.Length == 1 ? 0 : c];
            var q = Math.Round(bias[c] / (double)scales[c], MidpointRounding.ToEven);
            values[c] = (int)Math.Clamp(q, int.MinValue, int.MaxValue);
        }

        return (values, scales);
    }
}
