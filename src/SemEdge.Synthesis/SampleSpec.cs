using SemEdge.Imaging;

namespace SemEdge.Synthesis;

/// <summary>What to render: one image's seed, its class and its size in pixels.</summary>
public sealed record SampleSpec(ulong Seed, string ClassName, int Width = 512, int Height = 512)
{
    public const int MinSize = 64;
    public const int MaxSize = 4096;

    /// <summary>The distribution the image is drawn from (default: the pretraining mix).</summary>
    public SynthesisSettings Settings { get; init; } = SynthesisSettings.Pretraining;

    public void Validate()
    {
        if (!SemClasses.IsKnown(ClassName))
        {
            throw new ArgumentException($"unknown class '{ClassName}' (known: {string.Join(", ", SemClasses.Names)})");
        }
        if (Width is < MinSize or > MaxSize || Height is < MinSize or > MaxSize)
        {
            throw new ArgumentException($"image size must be {MinSize}..{MaxSize} pixels, got {Width}x{Height}");
        }
        Settings.Validate();
    }
}

/// <summary>A defect's bounding box in pixels: every pixel the defect changed lies inside it.</summary>
public readonly record struct DefectBox(int X, int Y, int Width, int Height)
{
    public bool Contains(int x, int y) => x >= X && y >= Y && x < X + Width && y < Y + Height;
}

/// <summary>An 8-bit greyscale image, row-major, one byte per pixel, with the view it shows and whether it is a figure crop.</summary>
public sealed record RenderedImage(byte[] Pixels, int Width, int Height, DefectBox? DefectBox, SemView View = SemView.TopDown, bool FigureCrop = false)
{
    /// <summary>The layout or cross-section structure the scene shows.</summary>
    public SceneLayout Layout { get; init; }

    /// <summary>A cross-section drawn with TEM-like contrast (bright background, dark metal).</summary>
    public bool TransmissionContrast { get; init; }

    /// <summary>The figure crop drew an arrow, and an ellipse, at the defect (or, on clean images, near the centre).</summary>
    public bool Arrow { get; init; }

    public bool Ellipse { get; init; }

    /// <summary>The image as an 8-bit greyscale PNG, the daemon's input format.</summary>
    public byte[] EncodePng() => PngGray.Encode(Pixels, Width, Height);
}
