using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace SemEdge.Web;

/// <summary>
/// The review queue's output: a dataset folder in the layout <c>scripts/train-models --data</c> reads,
/// <c>DIR/train/{class}/NAME</c> and <c>DIR/val/{class}/NAME</c>, with <c>DIR/labels.csv</c> recording every label
/// (who, when, what the model said). An image goes to val/ when the first four bytes of SHA-256(NAME), read as a
/// big-endian number, modulo 100 are below the validation percentage, so the split of a name never changes, also
/// when it is relabelled. The dataset is keyed by file name: labelling a name again moves it to the new class.
/// </summary>
public sealed class LabelledDataset(string folder, int validationPercent, TimeProvider time)
{
    public const string CsvName = "labels.csv";

    public const string CsvHeader = "file,split,label,labelled_by,labelled_at,model_label,model_confidence,model_action,model_id,model_sha,source";

    private readonly SemaphoreSlim _writing = new(1, 1);

    public string Root { get; } = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));

    public string Csv => Path.Combine(Root, CsvName);

    public static string SplitOf(string name, int validationPercent)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(name));
        return BinaryPrimitives.ReadUInt32BigEndian(hash) % 100 < (uint)validationPercent ? "val" : "train";
    }

    /// <summary>Copies the archived image into the dataset under <paramref name="label"/> and appends its CSV row.</summary>
    /// <param name="source">A path already resolved and checked by <see cref="ArchivePaths"/>.</param>
    /// <param name="label">A class of the running model (the caller checks).</param>
    public async Task<LabelResult> LabelAsync(string source, string sourceRelative, string label, WebCaller caller, PageVerdict? model, CancellationToken cancellationToken)
    {
        var name = Path.GetFileName(source);
        var split = SplitOf(name, validationPercent);
        await _writing.WaitAsync(cancellationToken);
        try
        {
            // A relabel: the earlier copy under another class goes, so a name is in one class only.
            foreach (var splitName in new[] { "train", "val" })
            {
                var splitFolder = Path.Combine(Root, splitName);
                if (!Directory.Exists(splitFolder))
                {
                    continue;
                }

                foreach (var classFolder in Directory.EnumerateDirectories(splitFolder))
                {
                    var earlier = Path.Combine(classFolder, name);
                    if (Path.GetFileName(classFolder) != label && File.Exists(earlier))
                    {
                        File.Delete(earlier);
                    }
                }
            }

            var targetFolder = Path.Combine(Root, split, label);
            Directory.CreateDirectory(targetFolder);
            var target = Path.Combine(targetFolder, name);
            var temp = Path.Combine(targetFolder, $".{name}.tmp");
            File.Copy(source, temp, overwrite: true);
            File.Move(temp, target, overwrite: true);

            var relative = $"{split}/{label}/{name}";
            var row = string.Join(',', new[]
            {
                relative,
                split,
                label,
                caller.Name,
                time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
                model?.Label ?? string.Empty,
                model is null ? string.Empty : model.Confidence.ToString("0.0000", CultureInfo.InvariantCulture),
                model?.Action ?? string.Empty,
                model?.Model ?? string.Empty,
                model?.Sha ?? string.Empty,
                sourceRelative,
            }.Select(Quote));
            var newFile = !File.Exists(Csv);
            await File.AppendAllTextAsync(Csv, (newFile ? CsvHeader + "\n" : string.Empty) + row + "\n", cancellationToken);
            return new LabelResult(relative, split, label, caller.Name);
        }
        finally
        {
            _writing.Release();
        }
    }

    /// <summary>The class each archive path was last labelled as, from labels.csv.</summary>
    public IReadOnlyDictionary<string, string> LabelsBySource()
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!File.Exists(Csv))
        {
            return labels;
        }

        foreach (var line in File.ReadLines(Csv).Skip(1))
        {
            var fields = ParseRow(line);
            if (fields.Count == 11)
            {
                labels[fields[10]] = fields[2];
            }
        }

        return labels;
    }

    /// <summary>RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled; a leading = + - @ is
    /// prefixed with ' so a spreadsheet does not run it as a formula.</summary>
    internal static string Quote(string field)
    {
        if (field.Length > 0 && "=+-@".Contains(field[0], StringComparison.Ordinal))
        {
            field = "'" + field;
        }

        return field.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : field;
    }

    internal static List<string> ParseRow(string line)
    {
        var fields = new List<string>();
        var current = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    current.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }

        fields.Add(current.ToString());
        return fields;
    }
}
