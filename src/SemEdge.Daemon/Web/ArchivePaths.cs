using System.Globalization;
using System.Text.RegularExpressions;

namespace SemEdge.Web;

/// <summary>
/// The only way a request names a file: <c>DAY/ACTION/NAME</c> inside the archive, each part checked on its own
/// (a date, one of pass/reject/review, a plain file name), then the resolved path checked to lie inside the archive
/// and to be a regular file reached through no symbolic link. Anything else is "not found", with no hint why.
/// </summary>
public sealed partial class ArchivePaths(string archiveFolder)
{
    public static readonly IReadOnlyList<string> Actions = ["pass", "reject", "review"];

    public string Root { get; } = Path.TrimEndingDirectorySeparator(Path.GetFullPath(archiveFolder));

    public static bool IsDay(string? day) =>
        day is not null && DayPattern().IsMatch(day) && DateOnly.TryParseExact(day, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _);

    public static bool IsPlainName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= 255 && name != "." && name != ".." &&
        name.IndexOfAny(['/', '\\', '\0']) < 0 && !name.Any(char.IsControl);

    /// <summary>The archive-relative form of an archived file, or null when it is not inside the archive.</summary>
    public string? Relative(string? fullPath)
    {
        if (fullPath is null)
        {
            return null;
        }

        var relative = Path.GetRelativePath(Root, Path.GetFullPath(fullPath)).Replace('\\', '/');
        return TryResolve(relative, out _) ? relative : null;
    }

    /// <summary>Resolves <c>DAY/ACTION/NAME</c> to an existing regular file inside the archive.</summary>
    public bool TryResolve(string? relative, out string fullPath)
    {
        fullPath = string.Empty;
        if (relative is null)
        {
            return false;
        }

        var parts = relative.Split('/');
        if (parts.Length != 3 || !IsDay(parts[0]) || !Actions.Contains(parts[1]) || !IsPlainName(parts[2]))
        {
            return false;
        }

        var candidate = Path.GetFullPath(Path.Combine(Root, parts[0], parts[1], parts[2]));
        if (!candidate.StartsWith(Root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            return false;
        }

        // No link anywhere below the archive root: a symlink planted in the archive must not lead out of it.
        var day = new DirectoryInfo(Path.Combine(Root, parts[0]));
        var action = new DirectoryInfo(Path.Combine(day.FullName, parts[1]));
        var file = new FileInfo(candidate);
        if (!day.Exists || day.LinkTarget is not null || !action.Exists || action.LinkTarget is not null ||
            !file.Exists || file.LinkTarget is not null || (file.Attributes & FileAttributes.ReparsePoint) != 0)
        {
            return false;
        }

        fullPath = candidate;
        return true;
    }

    /// <summary>The days held, newest first, with the count per action.</summary>
    public IReadOnlyList<(string Day, IReadOnlyDictionary<string, int> Counts)> Days()
    {
        if (!Directory.Exists(Root))
        {
            return [];
        }

        return [.. new DirectoryInfo(Root).EnumerateDirectories()
            .Where(d => IsDay(d.Name) && d.LinkTarget is null)
            .OrderByDescending(d => d.Name, StringComparer.Ordinal)
            .Select(d => (d.Name, (IReadOnlyDictionary<string, int>)Actions.ToDictionary(a => a, a => Files(d.Name, a).Count)))];
    }

    /// <summary>The plain files of one day and action, newest first (links and odd names are left out).</summary>
    public IReadOnlyList<FileInfo> Files(string day, string action)
    {
        var folder = new DirectoryInfo(Path.Combine(Root, day, action));
        if (!IsDay(day) || !Actions.Contains(action) || !folder.Exists || folder.LinkTarget is not null || folder.Parent?.LinkTarget is not null)
        {
            return [];
        }

        return [.. folder.EnumerateFiles()
            .Where(f => f.LinkTarget is null && IsPlainName(f.Name) && !f.Name.StartsWith('.'))
            .OrderByDescending(f => f.LastWriteTimeUtc)
            .ThenBy(f => f.Name, StringComparer.Ordinal)];
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}$", RegexOptions.CultureInvariant)]
    private static partial Regex DayPattern();
}
