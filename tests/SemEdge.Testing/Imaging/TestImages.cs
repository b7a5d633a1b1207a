using System.Buffers.Binary;
using System.IO.Compression;
using BitMiracle.LibTiff.Classic;
using SkiaSharp;

namespace SemEdge.Tests.Imaging;

/// <summary>Writes real image files for the decoder tests: Skia encoders, LibTiff, and hand-built PNG/BMP bytes.</summary>
internal static class TestImages
{
    public static byte[] Grey8(int width, int height, int seed)
    {
        var rng = new Random(seed);
        var pixels = new byte[width * height];
        rng.NextBytes(pixels);
        return pixels;
    }

    public static byte[] EncodeSkia(byte[] grey, int width, int height, SKEncodedImageFormat format, int quality = 100)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        grey.CopyTo(bitmap.GetPixelSpan());
        using var pixmap = bitmap.PeekPixels();
        using var data = format == SKEncodedImageFormat.Webp
            ? pixmap.Encode(new SKWebpEncoderOptions(SKWebpEncoderCompression.Lossless, 100))
            : pixmap.Encode(format, quality);
        return data!.ToArray();
    }

    /// <summary>A PNG with any bit depth/colour type, built by hand (chunks, CRC, zlib) so headers can lie.</summary>
    public static byte[] Png(int width, int height, byte bitDepth, byte colourType, byte[]? rawRows, bool withData = true)
    {
        using var ms = new MemoryStream();
        ms.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = bitDepth;
        ihdr[9] = colourType;
        Chunk(ms, "IHDR", ihdr);
        if (withData && rawRows is not null)
        {
            using var z = new MemoryStream();
            using (var zlib = new ZLibStream(z, CompressionLevel.Fastest, leaveOpen: true))
            {
                zlib.Write(rawRows);
            }

            Chunk(ms, "IDAT", z.ToArray());
        }

        Chunk(ms, "IEND", []);
        return ms.ToArray();
    }

    /// <summary>PNG rows for 16-bit grey values: filter byte 0, big-endian samples.</summary>
    public static byte[] PngRows16(ushort[] values, int width, int height)
    {
        var rows = new byte[height * (1 + (width * 2))];
        for (var y = 0; y < height; y++)
        {
            var o = y * (1 + (width * 2));
            for (var x = 0; x < width; x++)
            {
                BinaryPrimitives.WriteUInt16BigEndian(rows.AsSpan(o + 1 + (x * 2)), values[(y * width) + x]);
            }
        }

        return rows;
    }

    /// <summary>PNG rows of 16-bit samples filtered with one PNG filter type (1 Sub, 2 Up, 3 Average, 4 Paeth).</summary>
    public static byte[] FilterRows16(ushort[] samples, int samplesPerRow, int height, byte filter)
    {
        var raw = new byte[samples.Length * 2];
        for (var i = 0; i < samples.Length; i++) BinaryPrimitives.WriteUInt16BigEndian(raw.AsSpan(i * 2), samples[i]);
        return FilterRows(raw, samplesPerRow * 2, height, bpp: 6, _ => filter); // RGB, 16 bits each
    }

    /// <summary>PNG rows (filter byte, then the filtered row) of unfiltered rows, with the filter type <paramref name="filterOfRow"/> chooses per row.</summary>
    public static byte[] FilterRows(byte[] raw, int stride, int height, int bpp, Func<int, byte> filterOfRow)
    {
        var rows = new byte[height * (stride + 1)];
        for (var y = 0; y < height; y++)
        {
            var filter = filterOfRow(y);
            rows[y * (stride + 1)] = filter;
            for (var i = 0; i < stride; i++)
            {
                int x = raw[(y * stride) + i];
                var a = i >= bpp ? raw[(y * stride) + i - bpp] : 0;
                var b = y > 0 ? raw[((y - 1) * stride) + i] : 0;
                var c = i >= bpp && y > 0 ? raw[((y - 1) * stride) + i - bpp] : 0;
                var predictor = filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) >> 1,
                    _ => Paeth(a, b, c),
                };
                rows[(y * (stride + 1)) + 1 + i] = (byte)(x - predictor);
            }
        }

        return rows;
    }

    /// <summary>The zlib stream of <paramref name="data"/>, as a PNG's IDAT chunks hold it.</summary>
    public static byte[] Zlib(byte[] data, CompressionLevel level = CompressionLevel.Optimal)
    {
        using var z = new MemoryStream();
        using (var zlib = new ZLibStream(z, level, leaveOpen: true))
        {
            zlib.Write(data);
        }

        return z.ToArray();
    }

    /// <summary>
    /// An 8-bit grey PNG built by hand: IHDR, the <paramref name="before"/> chunks, the zlib stream
    /// <paramref name="zlib"/> cut into <paramref name="idatChunks"/> IDAT chunks (some may be empty), IEND.
    /// </summary>
    public static byte[] Grey8Png(int width, int height, byte[] zlib, int idatChunks = 1, params (string Type, byte[] Data)[] before)
    {
        using var ms = new MemoryStream();
        ms.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;
        Chunk(ms, "IHDR", ihdr);
        foreach (var (type, data) in before)
        {
            Chunk(ms, type, data);
        }

        for (var i = 0; i < idatChunks; i++)
        {
            Chunk(ms, "IDAT", zlib[(zlib.Length * i / idatChunks)..(zlib.Length * (i + 1) / idatChunks)]);
        }

        Chunk(ms, "IEND", []);
        return ms.ToArray();
    }

    /// <summary>Writes one PNG chunk: length, type, data, CRC.</summary>
    public static void Chunk(Stream s, string type, byte[] data)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var typed = new byte[4 + data.Length];
        System.Text.Encoding.ASCII.GetBytes(type).CopyTo(typed, 0);
        data.CopyTo(typed, 4);
        s.Write(typed);
        BinaryPrimitives.WriteUInt32BigEndian(len, System.IO.Hashing.Crc32.HashToUInt32(typed));
        s.Write(len);
    }

    /// <summary>Recomputes the CRC of the chunk that starts at <paramref name="chunk"/> (its length field) after its bytes were changed.</summary>
    public static void FixCrc(byte[] png, int chunk)
    {
        var length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(chunk));
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(chunk + 8 + length), System.IO.Hashing.Crc32.HashToUInt32(png.AsSpan(chunk + 4, 4 + length)));
    }

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    /// <summary>A 24-bit bottom-up BMP of the given RGB pixels (3 bytes each, top row first).</summary>
    public static byte[] Bmp24(byte[] rgb, int width, int height)
    {
        var stride = ((width * 3) + 3) & ~3;
        var size = 54 + (stride * height);
        var bmp = new byte[size];
        bmp[0] = (byte)'B';
        bmp[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(2), size);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(22), height);
        BinaryPrimitives.WriteInt16LittleEndian(bmp.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(bmp.AsSpan(28), 24);
        for (var y = 0; y < height; y++)
        {
            var row = 54 + ((height - 1 - y) * stride);
            for (var x = 0; x < width; x++)
            {
                var s = ((y * width) + x) * 3;
                bmp[row + (x * 3)] = rgb[s + 2];
                bmp[row + (x * 3) + 1] = rgb[s + 1];
                bmp[row + (x * 3) + 2] = rgb[s];
            }
        }

        return bmp;
    }

    /// <summary>A strip TIFF written by LibTiff: samples per pixel 1 (grey) or 3 (RGB), 8 or 16 bits.</summary>
    public static byte[] Tiff(int width, int height, int bits, int samples, byte[] rowBytes,
        Photometric photometric = Photometric.MINISBLACK, Compression compression = Compression.LZW)
    {
        using var ms = new MemoryStream();
        using (var tiff = BitMiracle.LibTiff.Classic.Tiff.ClientOpen("test", "w", ms, new TiffStream()))
        {
            tiff.SetField(TiffTag.IMAGEWIDTH, width);
            tiff.SetField(TiffTag.IMAGELENGTH, height);
            tiff.SetField(TiffTag.BITSPERSAMPLE, bits);
            tiff.SetField(TiffTag.SAMPLESPERPIXEL, samples);
            tiff.SetField(TiffTag.PHOTOMETRIC, photometric);
            tiff.SetField(TiffTag.PLANARCONFIG, PlanarConfig.CONTIG);
            tiff.SetField(TiffTag.COMPRESSION, compression);
            tiff.SetField(TiffTag.ROWSPERSTRIP, 16);
            var stride = width * samples * bits / 8;
            for (var y = 0; y < height; y++)
            {
                Assert.True(tiff.WriteScanline(rowBytes.AsSpan(y * stride, stride).ToArray(), y));
            }

            tiff.WriteDirectory();
            tiff.Flush();
        }

        return ms.ToArray();
    }
}
