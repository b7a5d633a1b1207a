using SemEdge.Cli;
using SemEdge.Tests.Platform;

namespace SemEdge.Tests.EndToEnd;

/// <summary>
/// 200 synthetic 256×256 SEM images made once for the end-to-end collection by <c>semedge synth</c> (names carry
/// the true class: <c>{class}-{seq}.png</c>). Tests copy them into a staging folder beside their drop folder and
/// rename them in, the way an SEM that writes-then-renames delivers.
/// </summary>
public sealed class SyntheticImages : IAsyncLifetime
{
    public const int Count = 200;

    private readonly TempFolder _folder = new();

    public IReadOnlyList<string> Files { get; private set; } = [];

    public async Task InitializeAsync()
    {
        var code = await WorkstationCli.RunAsync(
            ["synth", "--drop", _folder.Path, "--rate", "1000", "--count", Count.ToString(System.Globalization.CultureInfo.InvariantCulture), "--size", "256", "--seed", "11"],
            CancellationToken.None);
        Assert.Equal(SemEdgeCli.ExitOk, code);
        Files = [.. Directory.GetFiles(_folder.Path, "*.png").Order(StringComparer.Ordinal)];
        Assert.Equal(Count, Files.Count);
    }

    public Task DisposeAsync()
    {
        _folder.Dispose();
        return Task.CompletedTask;
    }

    public static string TrueClass(string image) => Path.GetFileName(image).Split('-')[0];

    /// <summary>
    /// Copies images into <paramref name="drop"/> under temporary names (<c>.NAME.tmp</c>, which the daemon
    /// ignores), so each arrives by one rename, as from an SEM that writes then renames.
    /// </summary>
    public IReadOnlyList<string> Stage(string drop, int count)
    {
        Directory.CreateDirectory(drop);
        return [.. Files.Take(count).Select(f =>
        {
            var staged = Path.Combine(drop, $".{Path.GetFileName(f)}.tmp");
            File.Copy(f, staged, overwrite: true);
            return staged;
        })];
    }

    /// <summary>The name a staged image arrives under.</summary>
    public static string ArrivalName(string staged) => Path.GetFileName(staged)[1..^".tmp".Length];
}

[CollectionDefinition(Name)]
public sealed class DaemonCollection : ICollectionFixture<SyntheticImages>
{
    /// <summary>End-to-end tests run one at a time: they measure, and CI has two cores.</summary>
    public const string Name = "daemon end to end";
}
