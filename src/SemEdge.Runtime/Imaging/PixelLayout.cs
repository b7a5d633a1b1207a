namespace SemEdge.Imaging;

/// <summary>How the decoded pixels of a <see cref="DecodedImage"/> are laid out in its buffer.</summary>
public enum PixelLayout
{
    /// <summary>One byte per pixel, grey.</summary>
    Grey8,

    /// <summary>One native-endian ushort per pixel, grey.</summary>
    Grey16,

    /// <summary>Four bytes per pixel, R G B A (composited over black by the preprocessor).</summary>
    Rgba8,

    /// <summary>Four native-endian ushorts per pixel, R G B A (composited over black by the preprocessor), e.g. 16-bit colour or grey+alpha PNG.</summary>
    Rgba16,
}
