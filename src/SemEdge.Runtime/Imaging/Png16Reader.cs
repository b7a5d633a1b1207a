using System.Buffers.Binary;
using System.IO.Compression;

namespace SemEdge.Imaging;

/// <summary>
/// 16-bit PNGs, which Skia only hands over at 8 bits (grey) or as half floats (11 significant bits). The
/// preprocessing contract is v/65535 exactly, so these few lines undo PNG's row filters on the zlib stream
/// themselves. Non-interlaced only; the header has already been validated and size-checked by Skia's codec.
/// </summary>
internal static class Png16Reader
{
    public static void Read(ReadOnlySpan<byte> data, DecodedImage target)
    {
        var width = BinaryPrimitives.ReadInt32BigEndian(data[16..]);
        var height = BinaryPrimitives.ReadInt32BigEndian(data[20..]);
        var colourType = data[25];
        var interlace = data[28];
        var channels = colourType switch
        {
            0 => 1,
            4 => 2,
            2 => 3,
            6 => 4,
            _ => throw new ImageRejectedException(ImageRejectReason.UnsupportedFormat, $"16-bit PNG colour type {colourType} is not supported"),
        };
        if (interlace != 0)
        {
            throw new ImageRejectedException(ImageRejectReason.UnsupportedFormat, "interlaced 16-bit PNG is not supported");
        }

        var bpp = channels * 2;
        var stride = checked(width * bpp);
        // Grey with alpha goes through the RGBA layout (grey in R, G and B) so the preprocessor composites its alpha.
        var layout = channels == 1 ? PixelLayout.Grey16 : PixelLayout.Rgba16;
        var pixels = target.Prepare(width, height, layout);
        var outStride = target.RowBytes;

        using var zlib = new ZLibStream(new IdatStream(data.ToArray()), CompressionMode.Decompress);
        var previous = new byte[stride];
        var current = new byte[stride];
        var filter = new byte[1];
        for (var y = 0; y < height; y++)
        {
            if (!ReadExactly(zlib, filter) || !ReadExactly(zlib, current))
            {
                throw new ImageRejectedException(ImageRejectReason.Truncated, $"16-bit PNG data ends at row {y} of {height}");
            }

            Unfilter(filter[0], current, previous, bpp, y);
            var row = pixels.Slice(y * outStride, outStride);
            for (var x = 0; x < width; x++)
            {
                var src = current.AsSpan(x * bpp);
                if (layout == PixelLayout.Grey16)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(row[(x * 2)..], BinaryPrimitives.ReadUInt16BigEndian(src));
                }
                else
                {
                    // Source channel of R, G, B and A: grey+alpha repeats its grey, RGB has no alpha (opaque).
                    for (var c = 0; c < 4; c++)
                    {
                        var value = channels switch
                        {
                            2 => BinaryPrimitives.ReadUInt16BigEndian(src[((c == 3 ? 1 : 0) * 2)..]),
                            3 => c == 3 ? ushort.MaxValue : BinaryPrimitives.ReadUInt16BigEndian(src[(c * 2)..]),
                            _ => BinaryPrimitives.ReadUInt16BigEndian(src[(c * 2)..]),
                        };
                        BinaryPrimitives.WriteUInt16LittleEndian(row[(((x * 4) + c) * 2)..], value);
                    }
                }
            }

            (previous, current) = (current, previous);
        }
    }

    private static bool ReadExactly(Stream stream, byte[] buffer)
    {
        try
        {
            stream.ReadExactly(buffer);
            return true;
        }
        catch (EndOfStreamException)
        {
            return false;
        }
        catch (InvalidDataException ex)
        {
            throw new ImageRejectedException(ImageRejectReason.Corrupt, $"16-bit PNG image data is corrupt: {ex.Message}", ex);
        }
    }

    private static void Unfilter(byte type, Span<byte> row, ReadOnlySpan<byte> prior, int bpp, int y)
    {
        for (var i = 0; i < row.Length; i++)
        {
            var a = i >= bpp ? row[i - bpp] : 0;
            var b = prior[i];
            var c = i >= bpp ? prior[i - bpp] : 0;
            row[i] += type switch
            {
                0 => 0,
                1 => (byte)a,
                2 => (byte)b,
                3 => (byte)((a + b) >> 1),
                4 => Paeth(a, b, c),
                _ => throw new ImageRejectedException(ImageRejectReason.Corrupt, $"16-bit PNG row {y} has unknown filter {type}"),
            };
        }
    }

    private static byte Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        var pa = Math.Abs(p - a);
        var pb = Math.Abs(p - b);
        var pc = Math.Abs(p - c);
        return (byte)(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
    }

    /// <summary>The concatenated payloads of the IDAT chunks, as one stream.</summary>
    private sealed class IdatStream(byte[] png) : Stream
    {
        private int _chunk = 8;
        private int _remaining;
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            while (_remaining == 0)
            {
                if (_chunk + 8 > png.Length)
                {
                    return 0;
                }

                var length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(_chunk));
                var type = png.AsSpan(_chunk + 4, 4);
                var start = _chunk + 8;
                _chunk = start + Math.Max(0, length) + 4;
                if (type.SequenceEqual("IEND"u8))
                {
                    return 0;
                }

                if (type.SequenceEqual("IDAT"u8))
                {
                    _position = start;
                    _remaining = Math.Clamp(png.Length - start, 0, Math.Max(0, length));
                }
            }

            var n = Math.Min(count, _remaining);
            png.AsSpan(_position, n).CopyTo(buffer.AsSpan(offset, n));
            _position += n;
            _remaining -= n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
