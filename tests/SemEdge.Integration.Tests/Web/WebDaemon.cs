using System.Text.RegularExpressions;
using SemEdge.Tests.EndToEnd;
using SemEdge.Tests.Publishing;

namespace SemEdge.Tests.Web;

/// <summary>Settings and helpers shared by the page's tests: the page on, its folders in the test's root.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static partial class WebDaemon
{
    public const string PasswdMarker = "root:x:0:0";

    public static List<string> PageSettings(string root, string bind, int port, string? tokenFile = null) =>
    [
        "--Web:Enabled=true",
        $"--Web:BindAddress={bind}",
        $"--Web:Port={port}",
        $"--Web:DatasetFolder={Path.Combine(root, "dataset")}",
        $"--Web:StateFolder={Path.Combine(root, "web")}",
        .. tokenFile is null ? Array.Empty<string>() : [$"--Web:TokenFile={tokenFile}"],
    ];

    /// <summary>A token file as the service user would keep it: mode 0600.</summary>
    public static string WriteTokens(string folder, params (string Name, string Role, string Token)[] tokens)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, "web-tokens");
        File.WriteAllLines(path, ["# name role token", .. tokens.Select(t => $"{t.Name} {t.Role} {t.Token}")]);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    /// <summary>Drops images the SEM way (write then rename) and waits until each is in the archive.</summary>
    public static async Task<IReadOnlyList<string>> DropAndWaitArchivedAsync(SyntheticImages images, string drop, string archive, int count)
    {
        var staged = images.Stage(drop, count);
        foreach (var file in staged)
        {
            File.Move(file, Path.Combine(drop, SyntheticImages.ArrivalName(file)));
        }

        var names = staged.Select(SyntheticImages.ArrivalName).ToList();
        await Eventually.TrueAsync(
            () => Directory.Exists(archive) && names.All(n => Directory.GetFiles(archive, n, SearchOption.AllDirectories).Length == 1),
            "the dropped images in the archive", seconds: 120);
        return names;
    }

    /// <summary>DAY/ACTION/NAME of an archived image.</summary>
    public static string ArchivePathOf(string archive, string name) =>
        Path.GetRelativePath(archive, Directory.GetFiles(archive, name, SearchOption.AllDirectories).Single()).Replace('\\', '/');

    public static string PrintedAddress(string output) =>
        AddressPattern().Match(output) is { Success: true } m ? m.Groups[1].Value : throw new InvalidOperationException($"no web address printed:\n{output}");

    [GeneratedRegex(@"semedge: web page at (http\S+?)/?(\s|$)")]
    private static partial Regex AddressPattern();
}
