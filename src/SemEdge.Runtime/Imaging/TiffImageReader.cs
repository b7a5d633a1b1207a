using System.Runtime.InteropServices;
using BitMiracle.LibTiff.Classic;

namespace SemEdge.Imaging;

/// <summary>
/// TIFF through LibTiff.NET: 8- and 16-bit greyscale strips row by row (the SEM's native output), everything
/// else 8-bit (RGB, palette, tiled) through libtiff's RGBA reader. Tags are checked before any pixels are read.
/// </summary>
internal sealed class TiffImageReader(long maxPixels)
{
    static TiffImageReader()
    {
        // Stateless and idempotent; installed once per process before the first TIFF is opened.
        Tiff.SetErrorHandler(new TiffMessageRouter());
    }

    public void Read(ReadOnlyMemory<byte> data, DecodedImage target)
    {
        CheckDirectoryInFile(data.Span);
        var source = new TiffSource(data);
        Tiff? tiff;
        try
        {
            tiff = Tiff.ClientOpen("image", "r", source, new TiffSourceStream());
        }
        catch (Exception ex) when (ex is not ImageRejectedException)
        {
            throw new ImageRejectedException(ImageRejectReason.Corrupt, $"TIFF header is corrupt: {ex.Message}", ex);
        }

        if (tiff is null)
        {
            throw new ImageRejectedException(data.Length < 16 ? ImageRejectReason.Truncated : ImageRejectReason.Corrupt,
                $"TIFF header could not be read: {source.Describe()}");
        }

        using (tiff)
        {
            try
            {
                ReadOpened(tiff, data.Length, source, target);
            }
            catch (Exception ex) when (ex is not ImageRejectedException)
            {
                throw new ImageRejectedException(ImageRejectReason.Corrupt, $"TIFF data is corrupt: {ex.Message}", ex);
            }
        }
    }

    private void ReadOpened(Tiff tiff, long fileLength, TiffSource source, DecodedImage target)
    {
        var width = Field(tiff, TiffTag.IMAGEWIDTH) ?? throw Corrupt("TIFF has no ImageWidth tag");
        var height = Field(tiff, TiffTag.IMAGELENGTH) ?? throw Corrupt("TIFF has no ImageLength tag");
        ImageDecoder.CheckDimensions(width, height, maxPixels, "TIFF");

        var bits = Field(tiff, TiffTag.BITSPERSAMPLE) ?? 1;
        var samples = Field(tiff, TiffTag.SAMPLESPERPIXEL) ?? 1;
        var photometric = (Photometric)(Field(tiff, TiffTag.PHOTOMETRIC) ?? (int)Photometric.MINISBLACK);
        var sampleFormat = (SampleFormat)(Field(tiff, TiffTag.SAMPLEFORMAT) ?? (int)SampleFormat.UINT);
        if (sampleFormat != SampleFormat.UINT)
        {
            throw new ImageRejectedException(ImageRejectReason.UnsupportedFormat,
                $"TIFF sample format {sampleFormat} is not supported (unsigned integers only)");
        }

        CheckNotTruncated(tiff, fileLength);

        var grey = samples == 1 && photometric is Photometric.MINISBLACK or Photometric.MINISWHITE;
        if (grey && bits is 8 or 16 && !tiff.IsTiled())
        {
            ReadGreyStrips(tiff, (int)width, (int)height, (int)bits, photometric == Photometric.MINISWHITE, source, target);
        }
        else if (bits <= 8)
        {
            ReadRgba(tiff, (int)width, (int)height, source, target);
        }
        else
        {
            throw new ImageRejectedException(ImageRejectReason.UnsupportedFormat,
                $"TIFF with {samples} samples of {bits} bits ({photometric}{(tiff.IsTiled() ? ", tiled" : string.Empty)}) is not supported; use 8/16-bit grey or 8-bit colour");
        }
    }

    private static void ReadGreyStrips(Tiff tiff, int width, int height, int bits, bool minIsWhite, TiffSource source,
        DecodedImage target)
    {
        var layout = bits == 8 ? PixelLayout.Grey8 : PixelLayout.Grey16;
        var pixels = target.Prepare(width, height, layout);
        var rowBytes = target.RowBytes;
        var scanline = new byte[Math.Max(tiff.ScanlineSize(), rowBytes)];
        for (var y = 0; y < height; y++)
        {
            if (!tiff.ReadScanline(scanline, y))
            {
                throw Corrupt($"TIFF row {y} could not be read: {source.Describe()}");
            }

            var row = pixels.Slice(y * rowBytes, rowBytes);
            scanline.AsSpan(0, rowBytes).CopyTo(row);
            if (minIsWhite)
            {
                Invert(row, bits);
            }
        }
    }

    private static void Invert(Span<byte> row, int bits)
    {
        if (bits == 8)
        {
            foreach (ref var b in row) b = (byte)(255 - b);
            return;
        }

        foreach (ref var v in MemoryMarshal.Cast<byte, ushort>(row)) v = (ushort)(65535 - v);
    }

    private static void ReadRgba(Tiff tiff, int width, int height, TiffSource source, DecodedImage target)
    {
        // libtiff's RGBA raster packs each pixel as A<<24|B<<16|G<<8|R: on a little-endian CPU those are the
        // bytes R,G,B,A, which is PixelLayout.Rgba8 exactly.
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("colour TIFF decoding assumes a little-endian CPU");
        }

        var raster = new int[checked(width * height)];
        if (!tiff.ReadRGBAImageOriented(width, height, raster, Orientation.TOPLEFT, false))
        {
            throw Corrupt($"TIFF colour data could not be read: {source.Describe()}");
        }

        MemoryMarshal.AsBytes(raster.AsSpan()).CopyTo(target.Prepare(width, height, PixelLayout.Rgba8));
    }

    /// <summary>
    /// Writers put the directory after the pixel data, so a partly copied file usually lacks it: say truncated.
    /// </summary>
    private static void CheckDirectoryInFile(ReadOnlySpan<byte> data)
    {
        if (data.Length < 8)
        {
            throw new ImageRejectedException(ImageRejectReason.Truncated, $"TIFF header is cut off after {data.Length} bytes");
        }

        var little = data[0] == (byte)'I';
        var version = little ? System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(data[2..])
            : System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
        if (version != 42)
        {
            return; // BigTIFF: 64-bit offsets; libtiff checks it.
        }

        var offset = little ? System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(data[4..])
            : System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(data[4..]);
        if (offset + 2L > data.Length)
        {
            throw new ImageRejectedException(ImageRejectReason.Truncated,
                $"TIFF directory starts at byte {offset} but the file has {data.Length} bytes (still being copied?)");
        }
    }

    /// <summary>A file still being copied has strips pointing past its end: call that truncated, not corrupt.</summary>
    private static void CheckNotTruncated(Tiff tiff, long fileLength)
    {
        var tileOrStrip = tiff.IsTiled() ? TiffTag.TILEOFFSETS : TiffTag.STRIPOFFSETS;
        var counts = tiff.IsTiled() ? TiffTag.TILEBYTECOUNTS : TiffTag.STRIPBYTECOUNTS;
        var o = Longs(tiff.GetField(tileOrStrip));
        var s = Longs(tiff.GetField(counts));
        if (o.Length == 0 || o.Length != s.Length)
        {
            throw Corrupt("TIFF has no usable strip/tile offsets");
        }

        for (var i = 0; i < Math.Min(o.Length, s.Length); i++)
        {
            if (o[i] + s[i] > fileLength)
            {
                throw new ImageRejectedException(ImageRejectReason.Truncated,
                    $"TIFF data ends early: strip {i} needs bytes up to {o[i] + s[i]} but the file has {fileLength} (still being copied?)");
            }
        }
    }

    private static long[] Longs(FieldValue[]? value)
    {
        if (value is not { Length: > 0 })
        {
            return [];
        }

        return value[^1].Value switch
        {
            long[] l => l,
            ulong[] u => Array.ConvertAll(u, x => (long)Math.Min(x, long.MaxValue)),
            int[] i => Array.ConvertAll(i, x => (long)(uint)x),
            uint[] u => Array.ConvertAll(u, x => (long)x),
            _ => [],
        };
    }

    private static long? Field(Tiff tiff, TiffTag tag)
    {
        var value = tiff.GetField(tag);
        return value is { Length: > 0 } ? value[0].ToLong() : null;
    }

    private static ImageRejectedException Corrupt(string message) => new(ImageRejectReason.Corrupt, message);
}

/// <summary>The bytes libtiff reads plus the errors it reports about them (instead of printing to stderr).</summary>
internal sealed class TiffSource(ReadOnlyMemory<byte> data)
{
    private readonly List<string> _errors = [];

    public ReadOnlyMemory<byte> Data { get; } = data;

    public long Position { get; set; }

    public void AddError(string message)
    {
        if (_errors.Count < 4) _errors.Add(message);
    }

    public string Describe() => _errors.Count == 0 ? "no detail from libtiff" : string.Join("; ", _errors);
}

/// <summary>Lets libtiff read from memory and routes its messages to the <see cref="TiffSource"/>.</summary>
internal sealed class TiffSourceStream : TiffStream
{
    public override int Read(object clientData, byte[] buffer, int offset, int count)
    {
        var source = (TiffSource)clientData;
        var available = (int)Math.Clamp(source.Data.Length - source.Position, 0, count);
        source.Data.Span.Slice((int)source.Position, available).CopyTo(buffer.AsSpan(offset, available));
        source.Position += available;
        return available;
    }

    public override void Write(object clientData, byte[] buffer, int offset, int count) =>
        throw new NotSupportedException("images are read only");

    public override long Seek(object clientData, long offset, SeekOrigin origin)
    {
        var source = (TiffSource)clientData;
        source.Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => source.Position + offset,
            _ => source.Data.Length + offset,
        };
        return source.Position;
    }

    public override void Close(object clientData)
    {
    }

    public override long Size(object clientData) => ((TiffSource)clientData).Data.Length;
}

/// <summary>
/// libtiff's handler is process-wide and by default prints to stderr; this one hands each message to the
/// <see cref="TiffSource"/> of the file it concerns, so messages end up in that file's rejection.
/// </summary>
internal sealed class TiffMessageRouter : TiffErrorHandler
{
    public override void ErrorHandler(Tiff tif, string method, string format, params object[] args) =>
        (tif?.Clientdata() as TiffSource)?.AddError(Format(method, format, args));

    public override void ErrorHandlerExt(Tiff tif, object clientData, string method, string format, params object[] args)
    {
    }

    public override void WarningHandler(Tiff tif, string method, string format, params object[] args)
    {
    }

    public override void WarningHandlerExt(Tiff tif, object clientData, string method, string format, params object[] args)
    {
    }

    private static string Format(string method, string format, object[] args)
    {
        try
        {
            return $"{method}: {string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args)}";
        }
        catch (FormatException)
        {
            return $"{method}: {format}";
        }
    }
}
