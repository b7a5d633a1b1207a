using System.Buffers.Binary;
using System.Runtime.InteropServices;
using BitMiracle.LibTiff.Classic;
using SemEdge.Imaging;
using SkiaSharp;

namespace SemEdge.Tests.Imaging;

public class ImageDecoderTests
{
    private readonly ImageDecoder _decoder = new();
    private readonly DecodedImage _image = new();

    [Fact]
    public void Png_grey8_decodes_to_the_exact_pixels()
    {
        var grey = TestImages.Grey8(37, 23, seed: 1);
        var png = TestImages.EncodeSkia(grey, 37, 23, SKEncodedImageFormat.Png);

        Assert.Equal(ImageFormat.Png, _decoder.Decode(png, _image));

        Assert.Equal((37, 23, PixelLayout.Grey8), (_image.Width, _image.Height, _image.Layout));
        Assert.Equal(grey, _image.Pixels.ToArray());
    }

    [Fact]
    public void Png_16_bit_grey_keeps_all_sixteen_bits()
    {
        var values = new ushort[] { 0, 1, 257, 32768, 65534, 65535, 12345, 54321 };
        var png = TestImages.Png(4, 2, 16, 0, TestImages.PngRows16(values, 4, 2));

        _decoder.Decode(png, _image);

        var luma = new float[4];
        for (var y = 0; y < 2; y++)
        {
            Preprocessor.ToLuma(_image.Row(y), _image.Layout, luma);
            for (var x = 0; x < 4; x++)
            {
                Assert.Equal(values[(y * 4) + x] / 65535f, luma[x], 1e-6f);
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Png_16_bit_rgb_with_row_filters_decodes_to_exact_luma(byte filter)
    {
        const int W = 5, H = 3;
        var rng = new Random(filter);
        var samples = Enumerable.Range(0, W * H * 3).Select(_ => (ushort)rng.Next(65536)).ToArray();
        var png = TestImages.Png(W, H, 16, 2, TestImages.FilterRows16(samples, W * 3, H, filter));

        _decoder.Decode(png, _image);

        Assert.Equal(PixelLayout.Rgba16, _image.Layout);
        var luma = new float[W];
        for (var y = 0; y < H; y++)
        {
            Preprocessor.ToLuma(_image.Row(y), _image.Layout, luma);
            for (var x = 0; x < W; x++)
            {
                var i = ((y * W) + x) * 3;
                var expected = ((0.299f * samples[i]) + (0.587f * samples[i + 1]) + (0.114f * samples[i + 2])) / 65535f;
                Assert.Equal(expected, luma[x], 1e-6f);
            }
        }
    }

    [Fact]
    public void Png_16_bit_shares_the_image_data_checks_truncated_and_damaged()
    {
        var rng = new Random(5);
        var values = Enumerable.Range(0, 6 * 5).Select(_ => (ushort)rng.Next(65536)).ToArray();
        var png = TestImages.Png(6, 5, 16, 0, TestImages.PngRows16(values, 6, 5));
        var idatPayload = 8 + 25 + 8;

        AssertRejected(png[..(idatPayload + 6)], ImageRejectReason.Truncated);
        var damaged = (byte[])png.Clone();
        damaged[idatPayload + 6] ^= 0x40; // the CRC no longer matches
        var ex = Assert.Throws<ImageRejectedException>(() => _decoder.Decode(damaged, _image));
        Assert.Equal(ImageRejectReason.Corrupt, ex.Reason);
        Assert.Contains("CRC", ex.Message);
    }

    [Fact]
    public void Jpeg_grey_decodes_close_to_the_source()
    {
        var grey = Smooth(64, 48);
        var jpeg = TestImages.EncodeSkia(grey, 64, 48, SKEncodedImageFormat.Jpeg, 100);

        Assert.Equal(ImageFormat.Jpeg, _decoder.Decode(jpeg, _image));

        Assert.Equal((64, 48, PixelLayout.Grey8), (_image.Width, _image.Height, _image.Layout));
        var meanError = _image.Pixels.ToArray().Zip(grey, (a, b) => Math.Abs(a - b)).Average();
        Assert.True(meanError < 1.5, $"mean abs error {meanError}");
    }

    [Fact]
    public void Lossless_webp_decodes_to_the_exact_grey_values()
    {
        var grey = TestImages.Grey8(31, 17, seed: 2);
        var webp = TestImages.EncodeSkia(grey, 31, 17, SKEncodedImageFormat.Webp);

        Assert.Equal(ImageFormat.WebP, _decoder.Decode(webp, _image));

        AssertLumaEquals(grey, 31, 17);
    }

    [Fact]
    public void Bmp_colour_decodes_to_bt601_luma()
    {
        byte[] rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 200, 90];
        var bmp = TestImages.Bmp24(rgb, 2, 2);

        Assert.Equal(ImageFormat.Bmp, _decoder.Decode(bmp, _image));

        var luma = new float[2];
        Preprocessor.ToLuma(_image.Row(0), _image.Layout, luma);
        Assert.Equal(0.299f, luma[0], 1e-6f);
        Assert.Equal(0.587f, luma[1], 1e-6f);
        Preprocessor.ToLuma(_image.Row(1), _image.Layout, luma);
        Assert.Equal(0.114f, luma[0], 1e-6f);
        Assert.Equal(((0.299f * 10) + (0.587f * 200) + (0.114f * 90)) / 255f, luma[1], 1e-6f);
    }

    [Fact]
    public void Tiff_8_bit_grey_decodes_to_the_exact_pixels()
    {
        var grey = TestImages.Grey8(40, 33, seed: 3);
        var tiff = TestImages.Tiff(40, 33, 8, 1, grey);

        Assert.Equal(ImageFormat.Tiff, _decoder.Decode(tiff, _image));

        Assert.Equal((40, 33, PixelLayout.Grey8), (_image.Width, _image.Height, _image.Layout));
        Assert.Equal(grey, _image.Pixels.ToArray());
    }

    [Fact]
    public void Tiff_16_bit_grey_decodes_to_the_exact_samples()
    {
        var rng = new Random(4);
        var values = Enumerable.Range(0, 21 * 19).Select(_ => (ushort)rng.Next(65536)).ToArray();
        var tiff = TestImages.Tiff(21, 19, 16, 1, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

        _decoder.Decode(tiff, _image);

        Assert.Equal(PixelLayout.Grey16, _image.Layout);
        Assert.Equal(values, MemoryMarshal.Cast<byte, ushort>(_image.Pixels).ToArray());
    }

    [Fact]
    public void Tiff_min_is_white_is_inverted_to_min_is_black()
    {
        byte[] grey = [0, 100, 255, 30];
        var tiff = TestImages.Tiff(2, 2, 8, 1, grey, Photometric.MINISWHITE, Compression.NONE);

        _decoder.Decode(tiff, _image);

        Assert.Equal(new byte[] { 255, 155, 0, 225 }, _image.Pixels.ToArray());
    }

    [Fact]
    public void Tiff_rgb_decodes_to_bt601_luma()
    {
        byte[] rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 40, 80, 120];
        var tiff = TestImages.Tiff(2, 2, 8, 3, rgb, Photometric.RGB);

        _decoder.Decode(tiff, _image);

        var luma = new float[2];
        Preprocessor.ToLuma(_image.Row(0), _image.Layout, luma);
        Assert.Equal([0.299f, 0.587f], luma.Select(v => MathF.Round(v, 5)));
        Preprocessor.ToLuma(_image.Row(1), _image.Layout, luma);
        Assert.Equal(0.114f, luma[0], 1e-6f);
        Assert.Equal(((0.299f * 40) + (0.587f * 80) + (0.114f * 120)) / 255f, luma[1], 1e-6f);
    }

    [Fact]
    public void Zero_byte_file_is_rejected_as_empty() =>
        AssertRejected([], ImageRejectReason.Empty);

    [Fact]
    public void Text_file_is_rejected_as_unsupported_format() =>
        AssertRejected("hello, this is not an image"u8.ToArray(), ImageRejectReason.UnsupportedFormat);

    [Fact]
    public void Gif_is_rejected_as_unsupported_format() =>
        AssertRejected("GIF89a\x01\x00\x01\x00\x00\x00\x00;"u8.ToArray(), ImageRejectReason.UnsupportedFormat);

    [Fact]
    public void File_cut_inside_the_png_signature_is_truncated() =>
        AssertRejected([0x89, (byte)'P', (byte)'N'], ImageRejectReason.Truncated);

    [Fact]
    public void Png_cut_in_half_is_rejected_as_truncated()
    {
        var png = TestImages.EncodeSkia(TestImages.Grey8(64, 64, 5), 64, 64, SKEncodedImageFormat.Png);

        AssertRejected(png[..(png.Length / 2)], ImageRejectReason.Truncated);
    }

    [Fact]
    public void Png_with_garbage_image_data_is_rejected_as_corrupt()
    {
        var rows = new byte[8 * 9];
        var png = TestImages.Png(8, 8, 8, 0, rows);

        // Overwrite the zlib stream inside IDAT (after signature 8 + IHDR 25 + IDAT length/type 8) with junk.
        for (var i = 8 + 25 + 8; i < png.Length - 16; i++) png[i] = 0xA5;

        var ex = Assert.Throws<ImageRejectedException>(() => _decoder.Decode(png, _image));
        Assert.Contains(ex.Reason, new[] { ImageRejectReason.Corrupt, ImageRejectReason.Truncated });
    }

    [Fact]
    public void Png_declaring_huge_dimensions_is_refused_before_allocating()
    {
        var png = TestImages.Png(200_000, 200_000, 8, 0, rawRows: new byte[64]);
        var before = GC.GetAllocatedBytesForCurrentThread();

        var ex = Assert.Throws<ImageRejectedException>(() => _decoder.Decode(png, _image));

        Assert.Equal(ImageRejectReason.TooLarge, ex.Reason);
        Assert.Contains("200000x200000", ex.Message);
        Assert.Equal(0, _image.Width);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "no pixel buffer may be allocated");
    }

    [Fact]
    public void Tiff_declaring_huge_dimensions_is_refused_before_allocating()
    {
        var tiff = TestImages.Tiff(4, 4, 8, 1, new byte[16], compression: Compression.NONE);
        PatchTiffDimensions(tiff, 100_000, 90_000);
        var before = GC.GetAllocatedBytesForCurrentThread();

        var ex = Assert.Throws<ImageRejectedException>(() => _decoder.Decode(tiff, _image));

        Assert.Equal(ImageRejectReason.TooLarge, ex.Reason);
        Assert.Equal(0, _image.Width);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "no pixel buffer may be allocated");
    }

    [Fact]
    public void Pixel_limit_is_configurable()
    {
        var png = TestImages.EncodeSkia(TestImages.Grey8(100, 100, 6), 100, 100, SKEncodedImageFormat.Png);

        var ex = Assert.Throws<ImageRejectedException>(() => new ImageDecoder(maxPixels: 9_999).Decode(png, _image));

        Assert.Equal(ImageRejectReason.TooLarge, ex.Reason);
        new ImageDecoder(maxPixels: 10_000).Decode(png, _image);
    }

    [Fact]
    public void Tiff_cut_short_is_rejected_as_truncated()
    {
        var tiff = TestImages.Tiff(64, 64, 8, 1, TestImages.Grey8(64, 64, 7), compression: Compression.NONE);

        AssertRejected(tiff[..(tiff.Length / 2)], ImageRejectReason.Truncated);
    }

    [Fact]
    public void Tiff_whose_strips_point_past_the_end_is_truncated()
    {
        var tiff = TestImages.Tiff(16, 16, 8, 1, TestImages.Grey8(16, 16, 9), compression: Compression.NONE);
        PatchTiffTag(tiff, 273, tiff.Length - 10); // StripOffsets of the one strip: 256 bytes from 10 before the end

        AssertRejected(tiff, ImageRejectReason.Truncated);
    }

    [Fact]
    public void Tiff_with_garbage_directory_is_rejected_as_corrupt()
    {
        var tiff = TestImages.Tiff(8, 8, 8, 1, new byte[64], compression: Compression.NONE);
        var ifd = (int)BinaryPrimitives.ReadUInt32LittleEndian(tiff.AsSpan(4));
        BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(ifd), 0);

        AssertRejected(tiff, ImageRejectReason.Corrupt);
    }

    [Fact]
    public void Decoding_a_second_image_of_the_same_size_allocates_no_pixel_buffer()
    {
        var grey = TestImages.Grey8(256, 256, 8);
        var png = TestImages.EncodeSkia(grey, 256, 256, SKEncodedImageFormat.Png);
        _decoder.Decode(png, _image);

        var before = GC.GetAllocatedBytesForCurrentThread();
        _decoder.Decode(png, _image);
        var pngBytes = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(pngBytes < 4096, $"PNG decode allocated {pngBytes} bytes");
    }

    private void AssertRejected(byte[] data, params ImageRejectReason[] reasons)
    {
        var ex = Assert.Throws<ImageRejectedException>(() => _decoder.Decode(data, _image));
        Assert.Contains(ex.Reason, reasons);
        Assert.False(string.IsNullOrWhiteSpace(ex.Message));
    }

    private void AssertLumaEquals(byte[] grey, int width, int height)
    {
        var luma = new float[width];
        for (var y = 0; y < height; y++)
        {
            Preprocessor.ToLuma(_image.Row(y), _image.Layout, luma);
            for (var x = 0; x < width; x++)
            {
                Assert.Equal(grey[(y * width) + x] / 255f, luma[x], 1e-5f);
            }
        }
    }

    private static byte[] Smooth(int width, int height)
    {
        var grey = new byte[width * height];
        for (var y = 0; y < height; y++)
        for (var x = 0; x < width; x++)
            grey[(y * width) + x] = (byte)((x * 3) + (y * 2));
        return grey;
    }

    /// <summary>Rewrites ImageWidth/ImageLength in a little-endian classic TIFF's first directory.</summary>
    private static void PatchTiffDimensions(byte[] tiff, int width, int height)
    {
        PatchTiffTag(tiff, 256, width);
        PatchTiffTag(tiff, 257, height);
    }

    /// <summary>Sets a single-valued SHORT/LONG tag of a little-endian classic TIFF's first directory.</summary>
    private static void PatchTiffTag(byte[] tiff, int wanted, int value)
    {
        var ifd = (int)BinaryPrimitives.ReadUInt32LittleEndian(tiff.AsSpan(4));
        var count = BinaryPrimitives.ReadUInt16LittleEndian(tiff.AsSpan(ifd));
        for (var i = 0; i < count; i++)
        {
            var entry = ifd + 2 + (i * 12);
            var tag = BinaryPrimitives.ReadUInt16LittleEndian(tiff.AsSpan(entry));
            var type = BinaryPrimitives.ReadUInt16LittleEndian(tiff.AsSpan(entry + 2));
            if (tag == wanted)
            {
                if (type == 3)
                {
                    // SHORT cannot hold the value: turn the entry into a LONG.
                    BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(entry + 2), 4);
                }

                BinaryPrimitives.WriteInt32LittleEndian(tiff.AsSpan(entry + 8), value);
            }
        }
    }
}
