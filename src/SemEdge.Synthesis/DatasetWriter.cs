using System.Globalization;
using System.Text;
using SemEdge.Imaging;

namespace SemEdge.Synthesis;

/// <summary>What a dataset run produces: image counts per split, the seed, the size and the classes.</summary>
public sealed record DatasetPlan(int Seed, int Size, int Train, int Val, int Test, IReadOnlyList<string> Classes)
{
    /// <summary>The distribution to draw from (default: the pretraining mix).</summary>
    public SynthesisSettings Settings { get; init; } = SynthesisSettings.Pretraining;

    public int PerClassTotal => Train + Val + Test;

    public int Total => PerClassTotal * Classes.Count;

    public int CountFor(DatasetSplit split) => split switch
    {
        DatasetSplit.Train => Train,
        DatasetSplit.Val => Val,
        DatasetSplit.Test => Test,
        _ => 0,
    };
}

/// <summary>One row of labels.csv.</summary>
public sealed record LabelRow(string File, DatasetSplit Split, string ClassName, ulong Seed, DefectBox? Box)
{
    /// <summary>The first scene drawn for this image could not carry its defect visibly, so another one was drawn.</summary>
    public bool Redrawn { get; init; }
}

/// <summary>
/// Writes <c>OUT/{train,val,test}/{class}/NAME.png</c>, <c>OUT/labels.csv</c> and <c>OUT/contact-sheet.png</c>.
/// Images render in parallel; each depends only on its own seed and lands in its own file, and the
/// labels are written in a fixed order afterwards, so the output never depends on scheduling.
/// </summary>
public sealed class DatasetWriter(DirectoryInfo root, DatasetPlan plan)
{
    public const string LabelsFile = "labels.csv";
    public const string ContactSheetFile = "contact-sheet.png";
    private const int SheetColumns = 6;

    public static string FileName(string className, int index) => $"{className}-{index:D5}.png";

    public IReadOnlyList<LabelRow> Write(IProgress<int>? progress, CancellationToken cancellationToken)
    {
        var jobs = new List<(DatasetSplit Split, int ClassIndex, string ClassName, int Index)>();
        foreach (var split in new[] { DatasetSplit.Train, DatasetSplit.Val, DatasetSplit.Test })
        {
            foreach (var name in plan.Classes)
            {
                Directory.CreateDirectory(Path.Combine(root.FullName, DatasetSplits.FolderName(split), name));
                for (var i = 0; i < plan.CountFor(split); i++)
                {
                    jobs.Add((split, SemClasses.IndexOf(name), name, i));
                }
            }
        }

        var rows = new LabelRow[jobs.Count];
        var thumbnails = new Dictionary<(string, int), byte[]>();
        var thumbSize = ContactSheet.ThumbnailSize;
        var done = 0;
        var options = new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Environment.ProcessorCount };
        Parallel.For(0, jobs.Count, options, j =>
        {
            var (split, classIndex, name, index) = jobs[j];
            var spec = new SampleSpec(ImageSeeds.Derive(plan.Seed, split, classIndex, index), name, plan.Size, plan.Size) { Settings = plan.Settings };
            var (image, seed) = SemImageGenerator.RenderSample(spec);
            var relative = $"{DatasetSplits.FolderName(split)}/{name}/{FileName(name, index)}";
            File.WriteAllBytes(Path.Combine(root.FullName, relative), image.EncodePng());
            rows[j] = new LabelRow(relative, split, name, seed, image.DefectBox) { Redrawn = seed != spec.Seed };
            if (split == DatasetSplit.Train && index < SheetColumns)
            {
                var thumb = Grey8Pixels.AreaResize(image.Pixels, image.Width, image.Height, thumbSize, thumbSize);
                lock (thumbnails)
                {
                    thumbnails[(name, index)] = thumb;
                }
            }
            progress?.Report(Interlocked.Increment(ref done));
        });

        WriteLabels(Path.Combine(root.FullName, LabelsFile), rows);
        var sheet = ContactSheet.Compose(plan.Classes, SheetColumns, (name, i) => thumbnails.GetValueOrDefault((name, i)));
        File.WriteAllBytes(Path.Combine(root.FullName, ContactSheetFile), sheet);
        return rows;
    }

    public static void WriteLabels(string path, IEnumerable<LabelRow> rows)
    {
        var sb = new StringBuilder("file,split,class,seed,x,y,w,h\n");
        var inv = CultureInfo.InvariantCulture;
        foreach (var r in rows)
        {
            sb.Append(inv, $"{r.File},{DatasetSplits.FolderName(r.Split)},{r.ClassName},{r.Seed}");
            if (r.Box is { } b)
            {
                sb.Append(inv, $",{b.X},{b.Y},{b.Width},{b.Height}\n");
            }
            else
            {
                sb.Append(",,,,\n");
            }
        }
        File.WriteAllText(path, sb.ToString());
    }
}
