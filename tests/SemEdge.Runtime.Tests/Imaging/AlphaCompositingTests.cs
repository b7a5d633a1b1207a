using SemEdge.Imaging;
using SemEdge.Inference;
using SemEdge.Tests.Inference;
using SkiaSharp;

namespace SemEdge.Tests.Imaging;

/// <summary>A pixel with alpha is composited over black (grey × alpha), in 8 and 16 bits.</summary>
public class AlphaCompositingTests
{
    private static readonly Preprocessing Unit = new() { Width = 2, Height = 1, Mean = 0f, Std = 1f };

    [Fact]
    public void Rgba8_png_reads_grey_times_alpha()
    {
        // Two pixels: opaque white, and white at alpha 51 (0.2).
        using var bitmap = new SKBitmap(new SKImageInfo(2, 1, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        bitmap.SetPixel(0, 0, new SKColor(255, 255, 255, 255));
        bitmap.SetPixel(1, 0, new SKColor(255, 255, 255, 51));
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        var tensor = new float[2];

        new Preprocessor(Unit).Run(Fixtures.Decode(data.ToArray()), tensor);

        Assert.Equal(1f, tensor[0], 1e-6f);
        Assert.Equal(0.2f, tensor[1], 1e-6f);
    }

    [Fact]
    public void Sixteen_bit_grey_alpha_png_reads_grey_times_alpha()
    {
        // Colour type 4 (grey + alpha), 16 bits: grey 65535 at alpha 0, grey 32768 at alpha 65535.
        byte[] row = [0, 0xFF, 0xFF, 0x00, 0x00, 0x80, 0x00, 0xFF, 0xFF];
        var png = TestImages.Png(2, 1, 16, 4, row);
        var tensor = new float[2];

        new Preprocessor(Unit).Run(Fixtures.Decode(png), tensor);

        Assert.Equal(0f, tensor[0], 1e-6f);
        Assert.Equal(32768f / 65535f, tensor[1], 1e-6f);
    }
}
