using SemEdge.Imaging;
using SemEdge.Inference;
using SkiaSharp;

namespace SemEdge.Tests.Imaging;

public class PreprocessorTests
{
    private static readonly Preprocessing Spec128 = new() { Width = 128, Height = 128, Mean = 0.5f, Std = 0.25f };

    [Fact]
    public void Integer_ratio_512_to_128_gives_the_exact_4x4_block_means()
    {
        var grey = TestImages.Grey8(512, 512, seed: 11);
        var image = Decode(TestImages.EncodeSkia(grey, 512, 512, SKEncodedImageFormat.Png));
        var tensor = new float[128 * 128];

        new Preprocessor(Spec128).Run(image, tensor);

        for (var oy = 0; oy < 128; oy++)
        for (var ox = 0; ox < 128; ox++)
        {
            double sum = 0;
            for (var y = 0; y < 4; y++)
            for (var x = 0; x < 4; x++)
                sum += grey[(((oy * 4) + y) * 512) + (ox * 4) + x] / 255.0;
            var expected = ((sum / 16) - 0.5) / 0.25;
            Assert.Equal(expected, tensor[(oy * 128) + ox], 1e-5);
        }
    }

    /// <summary>
    /// Sizes that are whole multiples of 128 take the integer block-sum path for 8-bit grey, every other size the
    /// weighted filter: both must give the area average.
    /// </summary>
    [Theory]
    [InlineData(128, 128)]
    [InlineData(256, 256)]
    [InlineData(1024, 512)]
    [InlineData(384, 1280)]
    [InlineData(300, 170)]
    [InlineData(129, 1000)]
    [InlineData(50, 77)]
    public void Whole_block_and_other_ratios_match_a_direct_two_dimensional_area_average(int width, int height)
    {
        var grey = TestImages.Grey8(width, height, seed: width + height);
        var image = Decode(TestImages.EncodeSkia(grey, width, height, SKEncodedImageFormat.Png));
        var tensor = new float[128 * 128];

        new Preprocessor(Spec128).Run(image, tensor);

        var reference = ReferenceArea(grey, width, height, 128, 128);
        for (var i = 0; i < tensor.Length; i++)
        {
            Assert.Equal((reference[i] - 0.5) / 0.25, tensor[i], 1e-5);
        }
    }

    [Fact]
    public void Area_weights_of_every_output_pixel_sum_to_one()
    {
        foreach (var (src, dst) in new[] { (512, 128), (300, 128), (1000, 7), (50, 128), (128, 128) })
        {
            var w = new AreaWeights(src, dst);
            for (var o = 0; o < dst; o++)
            {
                var sum = w.Weights.AsSpan(w.Offset[o], w.Count[o]).ToArray().Sum();
                Assert.Equal(1.0, sum, 1e-6);
                Assert.InRange(w.First[o] + w.Count[o], 1, src);
            }
        }
    }

    [Fact]
    public void Uniform_image_normalises_to_mean_and_std()
    {
        var grey = Enumerable.Repeat((byte)51, 200 * 90).ToArray();
        var image = Decode(TestImages.EncodeSkia(grey, 200, 90, SKEncodedImageFormat.Png));
        var tensor = new float[128 * 128];

        new Preprocessor(Spec128 with { Mean = 0.1f, Std = 0.5f }).Run(image, tensor);

        Assert.All(tensor, v => Assert.Equal(((51 / 255f) - 0.1f) / 0.5f, v, 1e-5f));
    }

    [Fact]
    public void Unsupported_manifest_preprocessing_is_refused()
    {
        Assert.Throws<NotSupportedException>(() => new Preprocessor(Spec128 with { Resize = "bilinear" }));
        Assert.Throws<NotSupportedException>(() => new Preprocessor(Spec128 with { Colour = "rgb" }));
        Assert.Throws<ArgumentException>(() => new Preprocessor(Spec128 with { Std = 0 }));
    }

    [Fact]
    public void Repeated_preprocessing_of_same_sized_images_allocates_nothing()
    {
        var image = Decode(TestImages.EncodeSkia(TestImages.Grey8(1024, 1024, 12), 1024, 1024, SKEncodedImageFormat.Png));
        var tensor = new float[128 * 128];
        var pre = new Preprocessor(Spec128);
        pre.Run(image, tensor);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 5; i++) pre.Run(image, tensor);

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static DecodedImage Decode(byte[] file)
    {
        var image = new DecodedImage();
        new ImageDecoder().Decode(file, image);
        return image;
    }

    /// <summary>The area formula evaluated directly in 2D and in double, as a reference.</summary>
    private static double[] ReferenceArea(byte[] grey, int sw, int sh, int dw, int dh)
    {
        var sx = (double)sw / dw;
        var sy = (double)sh / dh;
        var result = new double[dw * dh];
        for (var oy = 0; oy < dh; oy++)
        for (var ox = 0; ox < dw; ox++)
        {
            double sum = 0;
            for (var y = (int)Math.Floor(oy * sy); y < Math.Min(sh, Math.Ceiling((oy + 1) * sy)); y++)
            {
                var wy = Math.Max(0, Math.Min(y + 1, (oy + 1) * sy) - Math.Max(y, oy * sy)) / sy;
                for (var x = (int)Math.Floor(ox * sx); x < Math.Min(sw, Math.Ceiling((ox + 1) * sx)); x++)
                {
                    var wx = Math.Max(0, Math.Min(x + 1, (ox + 1) * sx) - Math.Max(x, ox * sx)) / sx;
                    sum += wx * wy * grey[(y * sw) + x] / 255.0;
                }
            }

            result[(oy * dw) + ox] = sum;
        }

        return result;
    }
}
