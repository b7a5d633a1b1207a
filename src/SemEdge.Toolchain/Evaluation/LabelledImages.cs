
namespace SemEdge.Toolchain.Evaluation;

internal sealed record LabelledImage(string Path, int Actual);

/// <summary>
/// A class-folder test set, <c>DIR/{class}/*.png|jpg|bmp|webp|tif</c>, labelled against a model's classes.
/// For a screen (classes clean, defect) every folder other than <c>clean</c> counts as a defect.
/// </summary>
internal static class LabelledImages
{
    private static readonly HashSet<string> ImageExtensions =
        new([".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"], StringComparer.OrdinalIgnoreCase);

    public static IReadOnlyList<LabelledImage> Find(string directory, IReadOnlyList<string> classes, bool screen)
    {
        if (!Directory.Exists(directory))
        {
            throw new JobInputException($"--data folder '{directory}' does not exist");
        }

        var images = new List<LabelledImage>();
        foreach (var folder in Directory.EnumerateDirectories(directory).Order(StringComparer.Ordinal))
        {
            var name = System.IO.Path.GetFileName(folder);
            var actual = screen
                ? (name == classes[0] ? 0 : 1)
                : IndexOf(classes, name);
            if (actual < 0)
            {
                throw new JobInputException(
                    $"--data folder '{name}' is not a class of the model ({string.Join(", ", classes)}); point --data at a split such as DATA/test");
            }

            images.AddRange(Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
                .Where(f => ImageExtensions.Contains(System.IO.Path.GetExtension(f)))
                .Order(StringComparer.Ordinal)
                .Select(f => new LabelledImage(f, actual)));
        }

        if (images.Count == 0)
        {
            throw new JobInputException($"--data folder '{directory}' has no class folders with images (expected DIR/{{class}}/*.png)");
        }

        return images;
    }

    private static int IndexOf(IReadOnlyList<string> classes, string name)
    {
        for (var i = 0; i < classes.Count; i++)
        {
            if (string.Equals(classes[i], name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}
