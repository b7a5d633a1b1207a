using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SemEdge.Imaging;

/// <summary>
/// Pixels of one decoded image in a buffer that is kept and reused for the next image, so a steady stream of
/// same-sized images decodes without new managed allocations. The buffer is pinned because native decoders
/// (Skia) write straight into it. Not thread-safe: one per pipeline worker.
/// </summary>
public sealed class DecodedImage
{
    private byte[] _pixels = [];

    public int Width { get; private set; }

    public int Height { get; private set; }

    public PixelLayout Layout { get; private set; }

    /// <summary>Bytes per row; rows are packed (no padding).</summary>
    public int RowBytes => Width * BytesPerPixel(Layout);

    /// <summary>One row of pixels in <see cref="Layout"/>.</summary>
    public ReadOnlySpan<byte> Row(int y) => _pixels.AsSpan(y * RowBytes, RowBytes);

    /// <summary>All pixel bytes, rows packed.</summary>
    public ReadOnlySpan<byte> Pixels => _pixels.AsSpan(0, RowBytes * Height);

    public static int BytesPerPixel(PixelLayout layout) => layout switch
    {
        PixelLayout.Grey8 => 1,
        PixelLayout.Grey16 => 2,
        PixelLayout.Rgba8 => 4,
        PixelLayout.Rgba16 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(layout)),
    };

    /// <summary>
    /// Sets the size and layout for the next image and returns its writable pixel bytes. The caller has already
    /// checked the dimensions against the pixel limit, so the allocation here is bounded.
    /// </summary>
    internal Span<byte> Prepare(int width, int height, PixelLayout layout)
    {
        var needed = checked(width * height * BytesPerPixel(layout));
        if (_pixels.Length < needed)
        {
            // Pinned so that Skia can decode into it; grows only, so it settles at the largest image seen.
            _pixels = GC.AllocateUninitializedArray<byte>(needed, pinned: true);
        }

        Width = width;
        Height = height;
        Layout = layout;
        return _pixels.AsSpan(0, needed);
    }

    /// <summary>Address of the pixel buffer; valid for the life of this object because the buffer is pinned.</summary>
    internal unsafe IntPtr Address => (IntPtr)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_pixels));
}
