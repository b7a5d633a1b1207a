namespace SemEdge.Inference;

/// <summary>
/// Finds the <c>models/</c> folder that ships with the application: next to the executable (installed layout),
/// else in the nearest parent folder that has one (a repository checkout, where the build output is deep below).
/// </summary>
public static class ShippedModels
{
    public const string FolderName = "models";
    public const string ClassifierFile = "classifier.int8.json";
    public const string ScreenFile = "screen.int8.json";

    /// <summary>The models folder, or null when none is found from <paramref name="startDirectory"/> upwards.</summary>
    public static string? FindFolder(string? startDirectory = null)
    {
        for (var dir = new DirectoryInfo(startDirectory ?? AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, FolderName);
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Full path of shipped model manifest <paramref name="fileName"/>.</summary>
    /// <exception cref="FileNotFoundException">With a message saying where it looked.</exception>
    public static string Resolve(string fileName, string? startDirectory = null)
    {
        var start = startDirectory ?? AppContext.BaseDirectory;
        var folder = FindFolder(start)
            ?? throw new FileNotFoundException(
                $"no '{FolderName}/' folder next to {start} or above it; pass the manifest explicitly", fileName);
        var path = Path.Combine(folder, fileName);
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"the shipped model manifest {path} does not exist (train and quantize first, or pass the manifest explicitly)", path);
    }
}
