namespace SemEdge.Tests;

/// <summary>Copies a folder and everything below it, for tests that stage a tree elsewhere (a fake root, a bundle, an install).</summary>
public static class DirectoryTree
{
    /// <param name="include">Which entries to copy, by their path relative to <paramref name="from"/> ('/'-separated); a directory left out takes its whole subtree with it. Null copies everything.</param>
    /// <param name="keepLinks">Copy symbolic links as links to the same target (a system folder's links may point anywhere, or nowhere) instead of copying what they point at.</param>
    /// <param name="readableByAll">Overwrite what is already there, and let every user read each copy (another user runs it).</param>
    public static void Copy(string from, string to, Func<string, bool>? include = null, bool keepLinks = false, bool readableByAll = false) =>
        Copy(from, to, string.Empty, include, keepLinks, readableByAll);

    private static void Copy(string from, string to, string relative, Func<string, bool>? include, bool keepLinks, bool readableByAll)
    {
        Directory.CreateDirectory(to);
        foreach (var entry in new DirectoryInfo(from).EnumerateFileSystemInfos())
        {
            var path = relative.Length == 0 ? entry.Name : $"{relative}/{entry.Name}";
            if (include is not null && !include(path))
            {
                continue;
            }

            var target = Path.Combine(to, entry.Name);
            if (keepLinks && entry.LinkTarget is { } link)
            {
                File.CreateSymbolicLink(target, link);
            }
            else if (entry is DirectoryInfo directory)
            {
                Copy(directory.FullName, target, path, include, keepLinks, readableByAll);
            }
            else
            {
                File.Copy(entry.FullName, target, overwrite: readableByAll);
                if (readableByAll)
                {
                    MakeReadableByAll(entry.FullName, target);
                }
            }
        }
    }

    private static void MakeReadableByAll(string source, string target)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("Unix file modes only");
        }

        File.SetUnixFileMode(target, File.GetUnixFileMode(source) | UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }
}
