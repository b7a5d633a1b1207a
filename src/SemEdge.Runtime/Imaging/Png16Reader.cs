using System.Buffers.Binary;

namespace SemEdge.Imaging;

/// <summary>
/// 16-bit PNGs, which Skia only hands over at 8 bits (grey) or as half floats (11 significant bits). The
/// preprocessing contract is v/65535 exactly, so these few lines read the rows themselves, through the image data
/// reader they share with <see cref="PngGrey8Reader"/>. Non-interlaced only; the header has already been
/// validated and size-checked by Skia's codec.
/// </summary>
internal static class Png16Reader
{
    public static void Read(ReadOnlyMemory<byte> data, DecodedImage target)
    {
        var (width, height) = PngImageData.Size(data.Span);
        var colourType = data.Span[25];
        var interlace = data.Span[28];
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

        using var image = new PngImageData(data, stride, height, "16-bit PNG");
        var previous = new byte[stride];
        var current = new byte[stride];
        for (var y = 0; y < height; y++)
        {
            image.ReadRow(y, current, previous, bpp);
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

        image.Finish();
    }
}
