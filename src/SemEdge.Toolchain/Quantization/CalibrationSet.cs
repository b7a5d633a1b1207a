using SemEdge.Imaging;
using SemEdge.Inference;

namespace SemEdge.Toolchain.Quantization;

/// <summary>
/// The calibration images, preprocessed by the runtime's own decoder and preprocessor so that the observed
/// activation ranges are those the deployed model will see.
/// </summary>
internal sealed class CalibrationSet
{
    private static readonly HashSet<string> ImageExtensions =
        new([".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"], StringComparer.OrdinalIgnoreCase);

    private CalibrationSet(IReadOnlyList<float[]> inputs, IReadOnlyList<string> skipped)
    {
        Inputs = inputs;
        Skipped = skipped;
    }

    public IReadOnlyList<float[]> Inputs { get; }

    /// <summary>Files the runtime would reject (quarantine), with the reason; they do not calibrate.</summary>
    public IReadOnlyList<string> Skipped { get; }

    /// <summary>
    /// Image files under <paramref name="directory"/> (all subfolders), in ordinal path order; above
    /// <paramref name="maxImages"/> an evenly spaced subset, so every class folder keeps its share.
    /// </summary>
    public static IReadOnlyList<string> FindImages(string directory, int maxImages)
    {
        var all = Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Where(f => ImageExtensions.Contains(Path.GetExtension(f)))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (all.Count <= maxImages)
        {
            return all;
        }

        return Enumerable.Range(0, maxImages).Select(i => all[(int)((long)i * all.Count / maxImages)]).ToList();
    }

    public static CalibrationSet Load(IReadOnlyList<string> files, Preprocessing preprocessing, CancellationToken cancellationToken)
    {
        var decoder = new ImageDecoder();
        var image = new DecodedImage();
        var preprocessor = new Preprocessor(preprocessing);
        var inputs = new List<float[]>(files.Count);
        var skipped = new List<string>();
        foreach (var file in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                decoder.Decode(File.ReadAllBytes(file), image);
            }
            catch (ImageRejectedException ex)
            {
                skipped.Add($"{file}: {ex.Message}");
                continue;
            }

            var tensor = new float[preprocessor.TensorLength];
            preprocessor.Run(image, tensor);
            inputs.Add(tensor);
        }

        return new CalibrationSet(inputs, skipped);
    }
}
