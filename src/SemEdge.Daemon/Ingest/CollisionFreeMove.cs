namespace SemEdge.Ingest;

/// <summary>
/// Renames a file into a folder without ever replacing what is there: a taken name gets a <c>~N</c> suffix
/// before the extension. The rename moves a symlink itself, never its target.
/// </summary>
public static class CollisionFreeMove
{
    private const int MaxAttempts = 10_000;

    /// <returns>The path the file now has.</returns>
    /// <param name="companionSuffix">
    /// A name is taken too when NAME + this suffix exists (quarantine keeps <c>NAME.error.json</c> beside NAME,
    /// and neither may land on a file that is already there).
    /// </param>
    public static string Move(string sourcePath, string folder, string name, string? companionSuffix = null)
    {
        var stem = Path.GetFileNameWithoutExtension(name);
        var extension = Path.GetExtension(name);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var candidate = Path.Combine(folder, attempt == 0 ? name : $"{stem}~{attempt}{extension}");
            if (Occupied(candidate) || (companionSuffix is not null && Occupied(candidate + companionSuffix)))
            {
                continue;
            }

            try
            {
                // overwrite:false links then unlinks on Linux, so a file that appeared since the check is kept.
                File.Move(sourcePath, candidate, overwrite: false);
                return candidate;
            }
            catch (IOException) when (Occupied(candidate) && (File.Exists(sourcePath) || IsLink(sourcePath)))
            {
                // Someone took the name between the check and the rename: try the next suffix.
            }
        }

        throw new IOException($"no free name for {name} in {folder} after {MaxAttempts} attempts");
    }

    /// <summary>Exists without following links: a dangling symlink occupies its name too.</summary>
    public static bool Occupied(string path) => Path.Exists(path) || IsLink(path);

    public static bool IsLink(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget is not null;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
