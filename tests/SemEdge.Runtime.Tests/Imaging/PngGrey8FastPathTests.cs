using System.Buffers.Binary;
using SemEdge.Imaging;
using SemEdge.Synthesis;
using SkiaSharp;

namespace SemEdge.Tests.Imaging;

/// <summary>
/// The hand-written reader of 8-bit grey PNGs against Skia's libpng, which it replaces for that one kind: the same
/// bytes for every valid file, the same kind of rejection for every damaged one. The reference is the decoder with
/// the fast path switched off, in the same process, on the same bytes.
/// </summary>
public class PngGrey8FastPathTests
{
    private readonly ImageDecoder _decoder = new();
    private readonly ImageDecoder _skia = new(ImageDecoder.DefaultMaxPixels, grey8FastPath: false);
    private readonly DecodedImage _image = new();
    private readonly DecodedImage _reference = new();

    public static TheoryData<SKPngEncoderFilterFlags, int, int> FiltersAndSizes()
    {
        var data = new TheoryData<SKPngEncoderFilterFlags, int, int>();
        foreach (var filter in new[] { SKPngEncoderFilterFlags.NoFilters, SKPngEncoderFilterFlags.Sub, SKPngEncoderFilterFlags.Up,
                     SKPngEncoderFilterFlags.Avg, SKPngEncoderFilterFlags.Paeth, SKPngEncoderFilterFlags.AllFilters })
        {
            foreach (var (w, h) in new[] { (1, 1), (1, 37), (37, 1), (3, 5), (511, 9), (512, 512) })
            {
                data.Add(filter, w, h);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(FiltersAndSizes))]
    public void Skia_encoded_png_with_one_filter_decodes_to_skias_bytes(SKPngEncoderFilterFlags filter, int width, int height)
    {
        var grey = Texture(width, height, seed: width + height);
        var png = EncodeSkia(grey, width, height, filter);

        AssertSameAsSkia(png);
        Assert.Equal(grey, _image.Pixels.ToArray());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Every_filter_type_on_every_row_decodes_to_skias_bytes(byte filter)
    {
        const int W = 31, H = 17;
        var grey = TestImages.Grey8(W, H, seed: filter);
        var png = TestImages.Grey8Png(W, H, TestImages.Zlib(TestImages.FilterRows(grey, W, H, bpp: 1, _ => filter)));

        AssertSameAsSkia(png);
        Assert.Equal(grey, _image.Pixels.ToArray());
    }

    [Theory]
    [InlineData(1, 40, 2)]
    [InlineData(3, 40, 7)]
    [InlineData(511, 12, 3)]
    [InlineData(64, 64, 50)]
    public void Rows_of_mixed_filters_in_many_idat_chunks_decode_to_skias_bytes(int width, int height, int idatChunks)
    {
        var grey = Texture(width, height, seed: 7);
        var rows = TestImages.FilterRows(grey, width, height, bpp: 1, y => (byte)((y * 3) % 5));
        var png = TestImages.Grey8Png(width, height, TestImages.Zlib(rows), idatChunks);

        AssertSameAsSkia(png);
        Assert.Equal(grey, _image.Pixels.ToArray());
    }

    [Theory]
    [InlineData("particle", false)]
    [InlineData("crack", false)]
    [InlineData("clean", false)]
    [InlineData("particle", true)]
    public void Synthetic_sem_images_decode_to_skias_bytes(string className, bool thumbnailEncoder)
    {
        var rendered = SemImageGenerator.RenderSample(new SampleSpec(ImageSeeds.Derive(5, DatasetSplit.Test, SemClasses.IndexOf(className), 1), className, 512, 512)).Image;
        var png = thumbnailEncoder ? PngGray.Encode(rendered.Pixels, rendered.Width, rendered.Height, fast: true) : rendered.EncodePng();

        AssertSameAsSkia(png);
        Assert.Equal(rendered.Pixels, _image.Pixels.ToArray());
    }

    public static TheoryData<string, byte[]> ColourChunks() => new()
    {
        { "gAMA", BigEndian(45455) },
        { "gAMA", BigEndian(100000) },
        { "gAMA", BigEndian(20000) },
        { "sRGB", [0] },
        { "cHRM", new byte[32] },
        { "iCCP", [(byte)'p', 0, 0, .. TestImages.Zlib(new byte[300])] },
        { "sBIT", [4] },
        { "bKGD", [0, 9] },
        { "pHYs", [0, 0, 11, 19, 0, 0, 11, 19, 1] },
        { "tEXt", [(byte)'k', 0, (byte)'v'] },
        { "PLTE", [1, 2, 3] },
        { "prVt", [1, 2, 3] },
    };

    /// <summary>Skia decodes grey without colour management, so these chunks change nothing, and the fast path reads past them.</summary>
    [Theory]
    [MemberData(nameof(ColourChunks))]
    public void Grey_png_with_colour_or_other_chunks_decodes_to_skias_bytes(string type, byte[] data)
    {
        const int W = 23, H = 11;
        var grey = Texture(W, H, seed: 3);
        var png = TestImages.Grey8Png(W, H, TestImages.Zlib(TestImages.FilterRows(grey, W, H, 1, y => (byte)(y % 5))), 1, (type, data));

        AssertSameAsSkia(png);
        Assert.Equal(grey, _image.Pixels.ToArray());
    }

    [Fact]
    public void Grey_png_with_trns_stays_on_skia_with_its_alpha()
    {
        const int W = 9, H = 4;
        var grey = TestImages.Grey8(W, H, seed: 4);
        var png = TestImages.Grey8Png(W, H, TestImages.Zlib(TestImages.FilterRows(grey, W, H, 1, _ => 0)), 1, ("tRNS", [0, grey[0]]));

        Assert.False(PngImageData.IsOpaqueGrey8(png));
        _decoder.Decode(png, _image);
        Assert.Equal(PixelLayout.Rgba8, _image.Layout);
        Assert.Equal(0, _image.Pixels[3]);
    }

    [Theory]
    [InlineData(16, 0)]
    [InlineData(8, 4)]
    [InlineData(8, 2)]
    [InlineData(4, 0)]
    public void Other_png_kinds_do_not_take_the_fast_path(byte bitDepth, byte colourType) =>
        Assert.False(PngImageData.IsOpaqueGrey8(TestImages.Png(4, 4, bitDepth, colourType, new byte[4 * 65])));

    [Fact]
    public void Interlaced_grey_png_does_not_take_the_fast_path()
    {
        var png = TestImages.Grey8Png(4, 4, TestImages.Zlib(new byte[4 * 5]));
        png[28] = 1;

        Assert.False(PngImageData.IsOpaqueGrey8(png));
    }

    [Fact]
    public void Png_cut_at_any_byte_gives_what_skia_gives()
    {
        const int W = 40, H = 30;
        var grey = Texture(W, H, seed: 9);
        var png = TestImages.Grey8Png(W, H, TestImages.Zlib(TestImages.FilterRows(grey, W, H, 1, y => (byte)(y % 5))), 3);

        var truncated = 0;
        for (var length = 8; length < png.Length; length++)
        {
            var outcome = AssertSameOutcomeAsSkia(png[..length]);
            truncated += outcome == ImageRejectReason.Truncated ? 1 : 0;
        }

        // Most cuts fall inside the image data; a cut in its last CRC or in IEND still holds every row.
        Assert.InRange(truncated, png.Length - 8 - 40, png.Length - 8);
    }

    [Fact]
    public void Any_changed_byte_in_the_image_data_is_rejected_or_changes_no_pixel()
    {
        const int W = 24, H = 12;
        var grey = Texture(W, H, 2);
        var png = TestImages.Grey8Png(W, H, TestImages.Zlib(TestImages.FilterRows(grey, W, H, 1, y => (byte)(y % 5))));
        var idat = IdatOffset(png);
        var length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(idat));

        var rejected = 0;
        for (var i = idat + 8; i < idat + 8 + length; i++)
        {
            // With its CRC left as it was: libpng's CRC check rejects it, and so must the fast path.
            var damaged = (byte[])png.Clone();
            damaged[i] ^= 0x5A;
            Assert.Equal(ImageRejectReason.Corrupt, AssertSameOutcomeAsSkia(damaged));

            // With the CRC made to match: zlib's Adler-32 is the last guard. Whatever Skia rejects, the fast path
            // rejects; and it never hands over changed pixels. (Skia does, once here: libpng stops inflating after
            // the last row, so damage after that row's bytes reaches neither its zlib nor the Adler-32 check.)
            TestImages.FixCrc(damaged, idat);
            var skia = Outcome(_skia, damaged, _reference);
            var fast = Outcome(_decoder, damaged, _image);
            if (fast is null)
            {
                Assert.Null(skia);
                Assert.Equal(grey, _image.Pixels.ToArray());
            }
            else
            {
                Assert.Equal(ImageRejectReason.Corrupt, fast);
                rejected++;
            }
        }

        Assert.True(rejected > length / 2, $"{rejected} of {length} changed bytes rejected");
    }

    [Fact]
    public void Corrupt_zlib_data_is_rejected_as_corrupt_where_skia_says_truncated()
    {
        var png = TestImages.Grey8Png(16, 16, TestImages.Zlib(TestImages.FilterRows(Texture(16, 16, 1), 16, 16, 1, _ => 1)));
        var idat = IdatOffset(png);
        png[idat + 8 + 10] ^= 0xFF;
        TestImages.FixCrc(png, idat);

        // libpng reports a zlib data error as input that ends early; it is damage, and the file will not grow.
        Assert.Equal(ImageRejectReason.Truncated, Assert.Throws<ImageRejectedException>(() => _skia.Decode(png, _reference)).Reason);
        var ex = Assert.Throws<ImageRejectedException>(() => _decoder.Decode(png, _image));
        Assert.Equal(ImageRejectReason.Corrupt, ex.Reason);
        Assert.Contains("zlib", ex.Message);
    }

    [Fact]
    public void A_wrong_adler32_is_rejected_as_corrupt()
    {
        var zlib = TestImages.Zlib(TestImages.FilterRows(Texture(16, 16, 1), 16, 16, 1, _ => 2));
        zlib[^1] ^= 1;
        var png = TestImages.Grey8Png(16, 16, zlib);

        Assert.Equal(ImageRejectReason.Corrupt, Assert.Throws<ImageRejectedException>(() => _decoder.Decode(png, _image)).Reason);
        Assert.Throws<ImageRejectedException>(() => _skia.Decode(png, _reference));
    }

    [Fact]
    public void A_zlib_stream_without_its_adler32_is_corrupt_as_in_skia()
    {
        var zlib = TestImages.Zlib(TestImages.FilterRows(Texture(16, 16, 1), 16, 16, 1, _ => 3));
        var png = TestImages.Grey8Png(16, 16, zlib[..^4]);

        Assert.Equal(ImageRejectReason.Corrupt, AssertSameOutcomeAsSkia(png));
    }

    [Theory]
    [InlineData(5)]
    [InlineData(255)]
    public void Unknown_filter_type_is_rejected_as_corrupt(byte filter)
    {
        const int W = 8, H = 6;
        var rows = TestImages.FilterRows(Texture(W, H, 1), W, H, 1, _ => 0);
        rows[3 * (W + 1)] = filter;
        var png = TestImages.Grey8Png(W, H, TestImages.Zlib(rows));

        Assert.Equal(ImageRejectReason.Corrupt, AssertSameOutcomeAsSkia(png));
        Assert.Contains($"filter type {filter}", Assert.Throws<ImageRejectedException>(() => _decoder.Decode(png, _image)).Message);
    }

    [Fact]
    public void Zlib_stream_with_fewer_rows_than_the_header_is_truncated()
    {
        const int W = 8, H = 6;
        var rows = TestImages.FilterRows(Texture(W, H, 1), W, H, 1, _ => 0);
        var png = TestImages.Grey8Png(W, H, TestImages.Zlib(rows[..^(W + 1)]));

        Assert.Equal(ImageRejectReason.Truncated, AssertSameOutcomeAsSkia(png));
    }

    [Fact]
    public void Data_after_the_last_row_and_after_iend_is_ignored_as_skia_ignores_it()
    {
        const int W = 8, H = 6;
        var grey = Texture(W, H, 1);
        var rows = TestImages.FilterRows(grey, W, H, 1, _ => 4);
        byte[] png = [.. TestImages.Grey8Png(W, H, TestImages.Zlib([.. rows, .. new byte[3 * (W + 1)]])), .. "trailing junk after IEND"u8];

        Assert.Null(AssertSameOutcomeAsSkia(png));
        Assert.Equal(grey, _image.Pixels.ToArray());
    }

    [Fact]
    public void Image_data_running_on_far_past_the_rows_is_refused_without_inflating_it_all()
    {
        const int W = 4, H = 4;
        var rows = TestImages.FilterRows(Texture(W, H, 1), W, H, 1, _ => 0);
        // 16 MB of zeros after 20 bytes of rows: about 16 KB of zlib, a decompression bomb in miniature.
        var png = TestImages.Grey8Png(W, H, TestImages.Zlib([.. rows, .. new byte[16 << 20]]));

        var ex = Assert.Throws<ImageRejectedException>(() => _decoder.Decode(png, _image));

        Assert.Equal(ImageRejectReason.Corrupt, ex.Reason);
        Assert.Contains("runs on past the 4 rows", ex.Message);
    }

    [Fact]
    public void A_chunk_between_idat_chunks_ends_the_image_data_as_in_libpng()
    {
        const int W = 8, H = 6;
        var zlib = TestImages.Zlib(TestImages.FilterRows(Texture(W, H, 1), W, H, 1, _ => 0));
        var split = TestImages.Grey8Png(W, H, zlib, 2);
        var second = IdatOffset(split) + 12 + BinaryPrimitives.ReadInt32BigEndian(split.AsSpan(IdatOffset(split)));
        using var ms = new MemoryStream();
        ms.Write(split, 0, second);
        TestImages.Chunk(ms, "tEXt", [(byte)'k', 0, (byte)'v']);
        ms.Write(split, second, split.Length - second);

        Assert.Throws<ImageRejectedException>(() => _skia.Decode(ms.ToArray(), _reference));
        Assert.Throws<ImageRejectedException>(() => _decoder.Decode(ms.ToArray(), _image));
    }

    [Fact]
    public void Decoding_the_same_size_again_allocates_little()
    {
        var png = EncodeSkia(Texture(512, 512, 1), 512, 512, SKPngEncoderFilterFlags.AllFilters);
        _decoder.Decode(png, _image);

        var before = GC.GetAllocatedBytesForCurrentThread();
        _decoder.Decode(png, _image);

        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 4096);
    }

    /// <summary>Decodes with both paths and checks the file took the fast path and both gave the same pixels.</summary>
    private void AssertSameAsSkia(byte[] png)
    {
        Assert.True(PngImageData.IsOpaqueGrey8(png), "the file should take the fast path");
        _skia.Decode(png, _reference);
        _decoder.Decode(png, _image);
        Assert.Equal((_reference.Width, _reference.Height, PixelLayout.Grey8), (_image.Width, _image.Height, _image.Layout));
        Assert.Equal(PixelLayout.Grey8, _reference.Layout);
        Assert.True(_reference.Pixels.SequenceEqual(_image.Pixels), "pixels differ from Skia's");
    }

    /// <summary>Both paths succeed with the same pixels (null), or both reject with the same reason (returned).</summary>
    private ImageRejectReason? AssertSameOutcomeAsSkia(byte[] png)
    {
        var expected = Outcome(_skia, png, _reference);
        var actual = Outcome(_decoder, png, _image);
        Assert.True(expected == actual, $"{png.Length} bytes: Skia {expected?.ToString() ?? "decodes"}, fast path {actual?.ToString() ?? "decodes"}");
        if (actual is null)
        {
            Assert.True(_reference.Pixels.SequenceEqual(_image.Pixels), $"{png.Length} bytes: pixels differ from Skia's");
        }

        return actual;
    }

    private static ImageRejectReason? Outcome(ImageDecoder decoder, byte[] png, DecodedImage image)
    {
        try
        {
            decoder.Decode(png, image);
            return null;
        }
        catch (ImageRejectedException ex)
        {
            return ex.Reason;
        }
    }

    private static int IdatOffset(byte[] png)
    {
        for (var chunk = 8; ; chunk += 12 + BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(chunk)))
        {
            if (png.AsSpan(chunk + 4, 4).SequenceEqual("IDAT"u8))
            {
                return chunk;
            }
        }
    }

    /// <summary>Smooth gradients with noise: every filter predicts something, unlike pure noise.</summary>
    private static byte[] Texture(int width, int height, int seed)
    {
        var rng = new Random(seed);
        var grey = new byte[width * height];
        for (var y = 0; y < height; y++)
        for (var x = 0; x < width; x++)
            grey[(y * width) + x] = (byte)((x * 2) + (y * 3) + rng.Next(-6, 7));
        return grey;
    }

    private static byte[] EncodeSkia(byte[] grey, int width, int height, SKPngEncoderFilterFlags filter)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        for (var y = 0; y < height; y++)
        {
            grey.AsSpan(y * width, width).CopyTo(bitmap.GetPixelSpan().Slice(y * bitmap.RowBytes, width));
        }

        using var pixmap = bitmap.PeekPixels();
        using var data = pixmap.Encode(new SKPngEncoderOptions(filter, 6));
        return data!.ToArray();
    }

    private static byte[] BigEndian(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(bytes, value);
        return bytes;
    }
}
