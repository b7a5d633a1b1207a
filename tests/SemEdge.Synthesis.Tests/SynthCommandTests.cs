using SemEdge.Cli;
using SemEdge.Imaging;
using SemEdge.Synthesis;

namespace SemEdge.Tests.Synthesis;

public class SynthCommandTests
{
    private static Task<int> Synth(params string[] args) => WorkstationCli.RunAsync(["synth", .. args], CancellationToken.None);

    // Writes a whole dataset twice: slow, so scripts/test --fast leaves it out.
    [Fact]
    [Trait("Category", "Slow")]
    public async Task Same_seed_twice_gives_byte_identical_files()
    {
        using var tmp = new TempFolder();
        Assert.Equal(0, await Synth("--out", tmp.Combine("a"), "--per-class", "2", "--size", "128", "--seed", "7"));
        Assert.Equal(0, await Synth("--out", tmp.Combine("b"), "--per-class", "2", "--size", "128", "--seed", "7"));
        Assert.Equal(0, await Synth("--out", tmp.Combine("c"), "--per-class", "2", "--size", "128", "--seed", "8"));

        var a = Files(tmp.Combine("a"));
        var b = Files(tmp.Combine("b"));
        Assert.Equal(10 * 3 * 2 + 2, a.Count);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (name, bytes) in a)
        {
            Assert.True(bytes.AsSpan().SequenceEqual(b[name]), $"{name} differs between two runs with the same seed");
        }
        var c = Files(tmp.Combine("c"));
        Assert.False(a["train/bridge/bridge-00000.png"].AsSpan().SequenceEqual(c["train/bridge/bridge-00000.png"]), "another seed gave the same image");
    }

    [Fact]
    public async Task Dataset_has_every_class_folder_in_every_split_and_labels_match_files()
    {
        using var tmp = new TempFolder();
        Assert.Equal(0, await Synth("--out", tmp.Path, "--train", "2", "--val", "1", "--test", "1", "--size", "96", "--seed", "3"));

        foreach (var split in new[] { "train", "val", "test" })
        {
            var folders = Directory.GetDirectories(Path.Combine(tmp.Path, split)).Select(Path.GetFileName).Order().ToList();
            Assert.Equal(SemClasses.Names.Order(), folders);
        }
        var lines = File.ReadAllLines(Path.Combine(tmp.Path, DatasetWriter.LabelsFile));
        Assert.Equal("file,split,class,seed,x,y,w,h", lines[0]);
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
        var onDisk = Directory.GetFiles(tmp.Path, "*.png", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(tmp.Path, f).Replace('\\', '/'))
            .Where(f => f != DatasetWriter.ContactSheetFile)
            .Order().ToList();
        Assert.Equal(onDisk, rows.Select(r => r[0]).Order().ToList());
        Assert.Equal(10 * 4, rows.Count);
        Assert.Equal(rows.Count, rows.Select(r => r[3]).Distinct().Count());
        foreach (var r in rows)
        {
            Assert.Equal(8, r.Length);
            Assert.StartsWith($"{r[1]}/{r[2]}/", r[0]);
            if (r[2] == SemClasses.Clean)
            {
                Assert.All(r[4..], v => Assert.Equal("", v));
            }
            else
            {
                var box = r[4..].Select(int.Parse).ToArray();
                Assert.True(box[0] >= 0 && box[1] >= 0 && box[2] > 0 && box[3] > 0 && box[0] + box[2] <= 96 && box[1] + box[3] <= 96, string.Join(",", r));
            }
        }
        var (sheet, sw, sh) = PngGray.Decode(File.ReadAllBytes(Path.Combine(tmp.Path, DatasetWriter.ContactSheetFile)));
        Assert.True(sw > ContactSheet.ThumbnailSize && sh >= 10 * ContactSheet.ThumbnailSize, $"contact sheet {sw}x{sh}");
        Assert.Contains(sheet, p => p > 100);
    }

    [Theory]
    [InlineData("--out", "X", "--size", "10")]
    [InlineData("--out", "X", "--per-class", "0")]
    [InlineData("--out", "X", "--train", "-1")]
    [InlineData("--out", "X", "--train", "0", "--val", "0", "--test", "0")]
    [InlineData("--out", "X", "--classes", "clean,dust")]
    [InlineData("--out", "X", "--classes", "clean,clean")]
    [InlineData("--out", "X", "--size", "big")]
    [InlineData("--per-class", "2")]
    [InlineData("--out", "X", "--drop", "Y")]
    [InlineData("--drop", "Y", "--rate", "0")]
    [InlineData("--drop", "Y", "--rate", "-3")]
    [InlineData("--drop", "Y", "--count", "0")]
    public async Task Bad_arguments_exit_with_usage_code_and_write_nothing(params string[] args)
    {
        using var tmp = new TempFolder();
        var resolved = args.Select(a => a is "X" or "Y" ? tmp.Combine(a) : a).ToArray();
        Assert.Equal(SemEdgeCli.ExitUsage, await Synth(resolved));
        Assert.False(Directory.Exists(tmp.Combine("X")));
        Assert.False(Directory.Exists(tmp.Combine("Y")));
    }

    private static Dictionary<string, byte[]> Files(string root) =>
        Directory.GetFiles(root, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(root, f).Replace('\\', '/'), File.ReadAllBytes);
}
