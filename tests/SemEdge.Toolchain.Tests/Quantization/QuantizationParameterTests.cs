using SemEdge.Toolchain.Quantization;

namespace SemEdge.Tests.Toolchain.Quantization;

public class QuantizationParameterTests
{
    [Fact]
    public void Activation_range_is_widened_to_include_zero_so_zero_is_exact()
    {
        var positive = ActivationQuantization.FromRange(new TensorRange(2f, 6f));
        Assert.Equal(0, positive.ZeroPoint);
        Assert.Equal(6f / 255, positive.Scale, 7);

        var mixed = ActivationQuantization.FromRange(new TensorRange(-1f, 3f));
        Assert.Equal(0f, mixed.Dequantize(mixed.Quantize(0f)));
        Assert.Equal(64, mixed.ZeroPoint);
        Assert.Equal(255, mixed.Quantize(100f));
        Assert.Equal(0, mixed.Quantize(-100f));
    }

    [Fact]
    public void Symmetric_weights_map_the_largest_magnitude_to_127()
    {
        var weight = ChannelQuantizedWeight.Quantize([1f, -0.5f, 0.25f, 0f, -3f, 1.5f, 0f, 0f], [2, 4], axis: 0);
        Assert.Equal([1f / 127, 3f / 127], weight.Scales);
        Assert.Equal(new sbyte[] { 127, -64, 32, 0, -127, 64, 0, 0 }, weight.Values);
    }

    [Fact]
    public void An_all_zero_channel_gets_a_usable_scale()
    {
        var weight = ChannelQuantizedWeight.Quantize([0f, 0f, 2f, -2f], [2, 2], axis: 0);
        Assert.Equal(1f, weight.Scales[0]);
        Assert.Equal(new sbyte[] { 0, 0, 127, -127 }, weight.Values);
    }

    [Fact]
    public void Percentile_cut_drops_rare_outliers_and_keeps_the_bulk()
    {
        var calibrator = new ActivationCalibrator(CalibrationMethod.Percentile, 99);
        // 1000 values over [0, 100): 990 in the first bin, 5 in the last, 5 in the middle.
        var counts = new long[100];
        counts[0] = 990;
        counts[50] = 5;
        counts[99] = 5;
        var cut = calibrator.Cut(new TensorRange(0, 100), counts);
        Assert.Equal(0f, cut.Min);
        Assert.True(cut.Max <= 51f && cut.Max >= 1f, $"max {cut.Max}");

        var keepAll = new ActivationCalibrator(CalibrationMethod.Percentile, 100).Cut(new TensorRange(0, 100), counts);
        Assert.Equal(new TensorRange(0, 100), keepAll);
    }
}
