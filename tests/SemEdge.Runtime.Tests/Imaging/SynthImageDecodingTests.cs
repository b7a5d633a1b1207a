using SemEdge.Imaging;
using SemEdge.Synthesis;
using SkiaSharp;

namespace SemEdge.Tests.Imaging;

/// <summary>Every decoder path on real `semedge synth` images, as a SEM tool would save them.</summary>
public class SynthImageDecodingTests
{
    private readonly ImageDecoder _decoder = new();
    private readonly DecodedImage _image = new();

    public static TheoryData<string, string> Saves() => new()
    {
        { SemClasses.Particle, "png" },
        { SemClasses.Crack, "png-writer" },
        { SemClasses.Bridge, "tiff8" },
        { SemClasses.Vias, "tiff16" },
        { SemClasses.Scratch, "bmp" },
        { SemClasses.Cmp, "webp" },
        { SemClasses.Ler, "jpeg" },
    };

    [Theory]
    [MemberData(nameof(Saves))]
    public void Synthetic_sem_image_decodes_to_its_own_pixels(string className, string save)
    {
        var rendered = SemImageGenerator.RenderSample(new SampleSpec(ImageSeeds.Derive(21, DatasetSplit.Test, SemClasses.IndexOf(className), 0), className, 320, 256)).Image;
        var (w, h, grey) = (rendered.Width, rendered.Height, rendered.Pixels);
        var bytes = save switch
        {
            "png" => TestImages.EncodeSkia(grey, w, h, SKEncodedImageFormat.Png),
            "png-writer" => rendered.EncodePng(),
            "tiff8" => TestImages.Tiff(w, h, 8, 1, grey),
            "tiff16" => TestImages.Tiff(w, h, 16, 1, grey.SelectMany(v => BitConverter.GetBytes((ushort)(v * 257))).ToArray()),
            "bmp" => TestImages.Bmp24(grey.SelectMany(v => new[] { v, v, v }).ToArray(), w, h),
            "webp" => TestImages.EncodeSkia(grey, w, h, SKEncodedImageFormat.Webp),
            _ => TestImages.EncodeSkia(grey, w, h, SKEncodedImageFormat.Jpeg, quality: 95),
        };

        _decoder.Decode(bytes, _image);

        Assert.Equal((w, h), (_image.Width, _image.Height));
        var luma = new float[w];
        var worst = 0.0;
        for (var y = 0; y < h; y++)
        {
            Preprocessor.ToLuma(_image.Row(y), _image.Layout, luma);
            for (var x = 0; x < w; x++)
            {
                worst = Math.Max(worst, Math.Abs((luma[x] * 255) - grey[(y * w) + x]));
            }
        }

        // Lossless saves give the exact grey levels (BMP's RGB goes through BT.601 and rounds back); JPEG is lossy.
        Assert.True(worst <= (save == "jpeg" ? 40 : 0.01), $"{save}: largest difference {worst:0.###} grey levels");
    }
}
