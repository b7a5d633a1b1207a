using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SemEdge.Imaging;

/// <summary>
/// The image data of a non-interlaced PNG for the hand-written readers (<see cref="PngGrey8Reader"/>,
/// <see cref="Png16Reader"/>): the IDAT chunks as one zlib stream (.NET's <see cref="ZLibStream"/>, zlib-ng),
/// inflated in one call, then unfiltered one row at a time by the caller. The header has already been validated
/// and size-checked by Skia's codec. Damage is reported the way Skia's libpng reports it, as <see cref="ImageRejectedException"/>: a file or
/// zlib stream that ends before the last row is truncated; a bad IDAT CRC, a bad zlib stream or Adler-32, an
/// unknown filter type is corrupt.
/// </summary>
internal sealed class PngImageData : IDisposable
{
    private readonly IdatStream _idat;
    private readonly ZLibStream _zlib;
    private readonly int _height;
    private readonly string _what;
    private readonly byte[] _scratch;
    private readonly int _inflatedRows;
    private int _rows;

    /// <summary>Inflates the whole image (one zlib call: row by row costs half as much again) and checks it.</summary>
    /// <param name="png">The whole file.</param>
    /// <param name="stride">Bytes in one unfiltered row.</param>
    /// <param name="what">How messages name the image, e.g. "16-bit PNG".</param>
    public PngImageData(ReadOnlyMemory<byte> png, int stride, int height, string what)
    {
        _idat = new IdatStream(png, what);
        _zlib = new ZLibStream(_idat, CompressionMode.Decompress);
        _height = height;
        _what = what;
        Stride = stride;
        // Every row's filter byte and filtered bytes, then a row of zeros (the row above the first). Bounded: the
        // caller has checked width x height against the pixel limit.
        var filtered = checked((stride + 1) * height);
        _scratch = ArrayPool<byte>.Shared.Rent(checked(filtered + stride));
        ZeroRow.Clear();
        try
        {
            _inflatedRows = _zlib.ReadAtLeast(_scratch.AsSpan(0, filtered), filtered, throwOnEndOfStream: false) / (stride + 1);
        }
        catch (InvalidDataException ex)
        {
            Dispose();
            throw Corrupt(ex);
        }
    }

    public int Stride { get; }

    /// <summary>The row above the first: all zeros.</summary>
    public Span<byte> ZeroRow => _scratch.AsSpan((Stride + 1) * _height, Stride);

    /// <summary>Width and height from the IHDR, which Skia's codec has validated before any reader runs.</summary>
    public static (int Width, int Height) Size(ReadOnlySpan<byte> png) =>
        (BinaryPrimitives.ReadInt32BigEndian(png[16..]), BinaryPrimitives.ReadInt32BigEndian(png[20..]));

    /// <summary>True when the IHDR says 8-bit grey, not interlaced, and no tRNS chunk comes before the image data.</summary>
    /// <remarks>
    /// The one kind SEM tools write. Skia decodes it into Gray8 without colour management: gAMA, sRGB, iCCP and
    /// cHRM do not change its pixels (a test holds both paths to that), while tRNS turns it into grey with alpha.
    /// </remarks>
    public static bool IsOpaqueGrey8(ReadOnlySpan<byte> png)
    {
        if (png.Length < 33 || !png.Slice(12, 4).SequenceEqual("IHDR"u8) || png[24] != 8 || png[25] != 0 || png[28] != 0)
        {
            return false;
        }

        for (var chunk = 33; chunk + 8 <= png.Length;)
        {
            var length = BinaryPrimitives.ReadUInt32BigEndian(png[chunk..]);
            var type = png.Slice(chunk + 4, 4);
            if (type.SequenceEqual("IDAT"u8) || type.SequenceEqual("IEND"u8))
            {
                return true;
            }

            var next = chunk + 12L + length;
            if (type.SequenceEqual("tRNS"u8) || next > png.Length)
            {
                return false;
            }

            chunk = (int)next;
        }

        return true;
    }

    /// <summary>Undoes the filter of row <paramref name="y"/> into <paramref name="row"/>.</summary>
    /// <param name="prior">The unfiltered row above (<see cref="ZeroRow"/> for the first).</param>
    /// <param name="bpp">Bytes per complete pixel, at least 1: the distance the Sub, Average and Paeth filters look left.</param>
    public void ReadRow(int y, Span<byte> row, ReadOnlySpan<byte> prior, int bpp)
    {
        if (y >= _inflatedRows)
        {
            throw new ImageRejectedException(ImageRejectReason.Truncated,
                $"{_what} image data ends at row {y} of {_height}: the file is truncated (still being copied?)");
        }

        var filtered = _scratch.AsSpan(y * (Stride + 1), Stride + 1);
        var raw = filtered[1..];
        switch (filtered[0])
        {
            case 0:
                raw.CopyTo(row);
                break;
            case 1:
                UnfilterSub(raw, row, bpp);
                break;
            case 2:
                UnfilterUp(raw, prior, row);
                break;
            case 3:
                UnfilterAverage(raw, prior, row, bpp);
                break;
            case 4:
                UnfilterPaeth(raw, prior, row, bpp);
                break;
            default:
                throw new ImageRejectedException(ImageRejectReason.Corrupt, $"{_what} row {y} has unknown filter type {filtered[0]}");
        }

        _rows++;
    }

    /// <summary>
    /// After the last row: inflates to the end of the zlib stream, so that zlib checks the Adler-32 of everything
    /// it gave. Data left over after the last row is accepted, as libpng accepts it, but only once its checksum
    /// holds: damage that makes the stream run on would otherwise hand over changed rows unchecked (libpng stops
    /// reading there, and does). Bounded: more left over than the image itself is refused, not inflated.
    /// </summary>
    public void Finish()
    {
        if (_rows != _height)
        {
            throw new InvalidOperationException($"{_rows} of {_height} rows read");
        }

        try
        {
            var limit = (long)(Stride + 1) * _height;
            for (long extra = 0; ;)
            {
                // The filtered rows are all used by now, so their space takes what is left over.
                var n = _zlib.Read(_scratch, 0, Stride + 1);
                if (n == 0)
                {
                    break;
                }

                extra += n;
                if (extra > limit)
                {
                    throw new ImageRejectedException(ImageRejectReason.Corrupt,
                        $"{_what} image data runs on past the {_height} rows its header declares by more than the image itself");
                }
            }
        }
        catch (InvalidDataException ex)
        {
            throw Corrupt(ex);
        }

        // ZLibStream also ends quietly when its input runs out before the zlib stream does; it only asks for more
        // input then, so an IDAT stream read to its end means the checksum was never reached. libpng rejects that,
        // unless the file itself is cut short after the last row (every row is there: it decodes, and so do we).
        if (_idat.Exhausted && !_idat.FileEnded)
        {
            throw new ImageRejectedException(ImageRejectReason.Corrupt,
                $"{_what} image data ends before its zlib stream does (no checksum): the image data is damaged");
        }
    }

    public void Dispose()
    {
        _zlib.Dispose();
        ArrayPool<byte>.Shared.Return(_scratch);
    }

    // zlib's own message is not passed on: .NET words every zlib data error as "unsupported compression method".
    private ImageRejectedException Corrupt(InvalidDataException ex) =>
        new(ImageRejectReason.Corrupt, $"{_what} image data is corrupt: its zlib stream or checksum is damaged", ex);

    // The filters that look left carry a chain from byte to byte. With one byte per pixel (the grey8 path) the
    // left neighbour stays in a register instead of being read back from the row just written, which halves
    // their cost; wider pixels take the general loop. Spans are reached by reference: the loops check bounds once.
    private static void UnfilterSub(ReadOnlySpan<byte> raw, Span<byte> row, int bpp)
    {
        ref var src = ref MemoryMarshal.GetReference(raw);
        ref var dst = ref MemoryMarshal.GetReference(row);
        var n = Math.Min(raw.Length, row.Length);
        if (bpp == 1)
        {
            byte left = 0;
            for (var i = 0; i < n; i++)
            {
                left = (byte)(Unsafe.Add(ref src, i) + left);
                Unsafe.Add(ref dst, i) = left;
            }

            return;
        }

        raw[..bpp].CopyTo(row);
        for (var i = bpp; i < n; i++)
        {
            Unsafe.Add(ref dst, i) = (byte)(Unsafe.Add(ref src, i) + Unsafe.Add(ref dst, i - bpp));
        }
    }

    private static void UnfilterUp(ReadOnlySpan<byte> raw, ReadOnlySpan<byte> prior, Span<byte> row)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= row.Length - Vector<byte>.Count; i += Vector<byte>.Count)
            {
                (new Vector<byte>(raw[i..]) + new Vector<byte>(prior[i..])).CopyTo(row[i..]);
            }
        }

        for (; i < row.Length; i++)
        {
            row[i] = (byte)(raw[i] + prior[i]);
        }
    }

    private static void UnfilterAverage(ReadOnlySpan<byte> raw, ReadOnlySpan<byte> prior, Span<byte> row, int bpp)
    {
        var n = Math.Min(Math.Min(raw.Length, prior.Length), row.Length);
        ref var src = ref MemoryMarshal.GetReference(raw);
        ref var up = ref MemoryMarshal.GetReference(prior);
        ref var dst = ref MemoryMarshal.GetReference(row);
        if (bpp == 1)
        {
            var left = 0;
            for (var i = 0; i < n; i++)
            {
                left = (byte)(Unsafe.Add(ref src, i) + ((left + Unsafe.Add(ref up, i)) >> 1));
                Unsafe.Add(ref dst, i) = (byte)left;
            }

            return;
        }

        for (var i = 0; i < bpp; i++)
        {
            row[i] = (byte)(raw[i] + (prior[i] >> 1));
        }

        for (var i = bpp; i < n; i++)
        {
            Unsafe.Add(ref dst, i) = (byte)(Unsafe.Add(ref src, i) + ((Unsafe.Add(ref dst, i - bpp) + Unsafe.Add(ref up, i)) >> 1));
        }
    }

    private static void UnfilterPaeth(ReadOnlySpan<byte> raw, ReadOnlySpan<byte> prior, Span<byte> row, int bpp)
    {
        var n = Math.Min(Math.Min(raw.Length, prior.Length), row.Length);
        ref var src = ref MemoryMarshal.GetReference(raw);
        ref var up = ref MemoryMarshal.GetReference(prior);
        ref var dst = ref MemoryMarshal.GetReference(row);
        if (bpp == 1)
        {
            int a = 0, c = 0;
            for (var i = 0; i < n; i++)
            {
                int b = Unsafe.Add(ref up, i);
                a = (byte)(Unsafe.Add(ref src, i) + Paeth(a, b, c));
                Unsafe.Add(ref dst, i) = (byte)a;
                c = b;
            }

            return;
        }

        // Left of the first pixel a and c are 0, so the predictor is b.
        for (var i = 0; i < bpp; i++)
        {
            row[i] = (byte)(raw[i] + prior[i]);
        }

        for (var i = bpp; i < n; i++)
        {
            Unsafe.Add(ref dst, i) = (byte)(Unsafe.Add(ref src, i) + Paeth(Unsafe.Add(ref dst, i - bpp), Unsafe.Add(ref up, i), Unsafe.Add(ref up, i - bpp)));
        }
    }

    /// <summary>The Paeth predictor: whichever of left (a), above (b) and upper left (c) is nearest a + b - c, ties to a, then b.</summary>
    /// <remarks>
    /// Written as libpng writes it, with an abs that cannot throw: the JIT makes conditional moves of it, and the
    /// byte-to-byte chain runs in about half the time of the spec's three-way comparison (5.5 against 10 ms a
    /// megapixel on this machine, measured in one run).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Paeth(int a, int b, int c)
    {
        var p = b - c;
        var q = a - c;
        var pa = Abs(p);
        var pb = Abs(q);
        var pc = Abs(p + q);
        var predictor = a;
        if (pb < pa)
        {
            pa = pb;
            predictor = b;
        }

        if (pc < pa)
        {
            predictor = c;
        }

        return predictor;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Abs(int x)
    {
        var sign = x >> 31;
        return (x ^ sign) - sign;
    }

    /// <summary>
    /// The payloads of the consecutive IDAT chunks, as one stream; the first chunk of another type ends it, as in
    /// libpng. Each chunk's CRC is checked before its bytes are served, as libpng does for critical chunks, unless
    /// the file ends inside it (then what is there is served, and a missing row is reported as truncation).
    /// </summary>
    private sealed class IdatStream(ReadOnlyMemory<byte> png, string what) : Stream
    {
        private int _next = 8;
        private int _position;
        private int _remaining;
        private bool _inIdat;

        /// <summary>True once the stream has said there is no more: the IDAT chunks are used up.</summary>
        public bool Exhausted { get; private set; }

        /// <summary>True when the IDAT chunks ended with the file rather than with another chunk.</summary>
        public bool FileEnded { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            while (_remaining == 0)
            {
                if (Exhausted || !NextChunk())
                {
                    Exhausted = true;
                    return 0;
                }
            }

            var n = Math.Min(buffer.Length, _remaining);
            png.Span.Slice(_position, n).CopyTo(buffer);
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

        /// <summary>Moves to the next chunk; false when the image data has ended (another chunk type, or the end of the file).</summary>
        private bool NextChunk()
        {
            var data = png.Span;
            if (_next + 8 > data.Length)
            {
                FileEnded = true;
                return false;
            }

            var length = BinaryPrimitives.ReadUInt32BigEndian(data[_next..]);
            var isIdat = data.Slice(_next + 4, 4).SequenceEqual("IDAT"u8);
            if (length > int.MaxValue)
            {
                throw new ImageRejectedException(ImageRejectReason.Corrupt, $"{what} chunk at byte {_next} declares an impossible length {length}");
            }

            if (!isIdat)
            {
                if (_inIdat)
                {
                    return false;
                }

                // Before the image data: chunks Skia's codec has already read and accepted.
                _next = (int)Math.Min((long)_next + 12 + length, data.Length);
                return true;
            }

            _inIdat = true;
            var start = _next + 8;
            var end = (long)start + length;
            if (end + 4 <= data.Length)
            {
                var expected = BinaryPrimitives.ReadUInt32BigEndian(data[(int)end..]);
                if (System.IO.Hashing.Crc32.HashToUInt32(data[(_next + 4)..(int)end]) != expected)
                {
                    throw new ImageRejectedException(ImageRejectReason.Corrupt, $"{what} IDAT chunk at byte {_next} fails its CRC: the image data is damaged");
                }
            }

            _position = start;
            _remaining = (int)(Math.Min(end, data.Length) - start);
            _next = (int)Math.Min(end + 4, data.Length);
            return true;
        }
    }
}
