using SemEdge.Imaging;

namespace SemEdge.Synthesis;

/// <summary>
/// Feeds a drop folder the way a SEM does: images at a steady rate, each written under a hidden temporary
/// name (<c>.NAME.png.tmp</c>) and renamed in, so a watcher never sees a half-written file. Names carry the
/// true class (<c>{class}-{seq:D6}.png</c>) so verdicts can be checked against it.
/// </summary>
public sealed class DropFeeder(DirectoryInfo folder, int seed, double rate, IReadOnlyList<string> classes, int size, TimeProvider time)
{
    /// <summary>The distribution to draw from (default: the pretraining mix).</summary>
    public SynthesisSettings Settings { get; init; } = SynthesisSettings.Pretraining;

    public static string FileName(string className, int sequence) => $"{className}-{sequence:D6}.png";

    /// <summary>The class of the n-th dropped image: a fixed shuffle of the classes per seed.</summary>
    public string ClassFor(int sequence)
    {
        var h = SynthRandom.Mix(((ulong)(uint)seed << 32) ^ (uint)sequence ^ 0xD809UL);
        return classes[(int)(h % (ulong)classes.Count)];
    }

    /// <summary>Writes images until <paramref name="count"/> is reached (null: until cancelled).</summary>
    /// <returns>How many images were written.</returns>
    public async Task<int> RunAsync(int? count, Action<string>? written, CancellationToken cancellationToken)
    {
        folder.Create();
        var start = time.GetTimestamp();
        var sequence = 0;
        while (count is null || sequence < count)
        {
            var due = TimeSpan.FromSeconds(sequence / rate);
            var elapsed = time.GetElapsedTime(start);
            if (due > elapsed)
            {
                try
                {
                    await Task.Delay(due - elapsed, time, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
            if (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            sequence++;
            var name = ClassFor(sequence);
            var spec = new SampleSpec(ImageSeeds.Derive(seed, DatasetSplit.Drop, SemClasses.IndexOf(name), sequence), name, size, size) { Settings = Settings };
            var png = SemImageGenerator.RenderSample(spec).Image.EncodePng();
            var file = FileName(name, sequence);
            var temp = Path.Combine(folder.FullName, $".{file}.tmp");
            await File.WriteAllBytesAsync(temp, png, CancellationToken.None);
            File.Move(temp, Path.Combine(folder.FullName, file), overwrite: true);
            written?.Invoke(file);
        }
        return sequence;
    }
}
