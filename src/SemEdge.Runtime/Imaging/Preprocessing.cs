namespace SemEdge.Imaging;

/// <summary>
/// The preprocessing a model was trained with (the manifest's <c>preprocessing</c> section), which
/// <see cref="Preprocessor"/> reproduces: colour conversion, resize, normalisation.
/// </summary>
public sealed record Preprocessing
{
    /// <summary><c>grey-bt601</c>: the only colour conversion defined so far.</summary>
    public string Colour { get; init; } = "grey-bt601";

    /// <summary><c>area</c>: area-weighted box filter, see <see cref="AreaWeights"/>.</summary>
    public string Resize { get; init; } = "area";

    public required int Width { get; init; }

    public required int Height { get; init; }

    public float Mean { get; init; } = 0.5f;

    public float Std { get; init; } = 0.25f;
}
