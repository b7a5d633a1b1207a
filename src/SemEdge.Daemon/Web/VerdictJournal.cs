using System.Text.Json;

namespace SemEdge.Web;

/// <summary>
/// The verdict of each archived image, kept by the page as <c>STATE/verdicts/DAY/ACTION/NAME.json</c> beside (not
/// inside) the archive, so the archive browser shows an image with its verdict. A day is dropped once the
/// archive's retention has removed that day.
/// </summary>
public sealed class VerdictJournal(string stateFolder, ArchivePaths archive)
{
    public string Root { get; } = Path.Combine(Path.GetFullPath(stateFolder), "verdicts");

    public void Write(PageVerdict verdict)
    {
        if (verdict.Path is not { } relative)
        {
            return;
        }

        var target = Path.Combine(Root, relative + ".json");
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var temp = target + ".tmp";
        File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(verdict, WebJsonContext.Default.PageVerdict));
        File.Move(temp, target, overwrite: true);
    }

    /// <summary>The verdict of an archived image; <paramref name="relative"/> must already be checked by <see cref="ArchivePaths"/>.</summary>
    public PageVerdict? Find(string relative)
    {
        var path = Path.Combine(Root, relative + ".json");
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize(File.ReadAllBytes(path), WebJsonContext.Default.PageVerdict) : null;
        }
        catch (Exception ex) when (ex is IOException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Deletes the days the archive no longer holds.</summary>
    public void Prune()
    {
        if (!Directory.Exists(Root))
        {
            return;
        }

        foreach (var day in Directory.EnumerateDirectories(Root))
        {
            var name = Path.GetFileName(day);
            if (ArchivePaths.IsDay(name) && !Directory.Exists(Path.Combine(archive.Root, name)))
            {
                Directory.Delete(day, recursive: true);
            }
        }
    }
}
