namespace SemEdge.Toolchain.Evaluation;

internal sealed record ClassMetrics(string Class, long Support, long Predicted, double Precision, double Recall, double F1);

/// <summary>
/// Accuracy, per-class precision/recall/F1 and their unweighted (macro) mean. A class never predicted has
/// precision 0; the macro mean runs over the classes that occur in the data or in the predictions, so a
/// class absent from both does not dilute it (scikit-learn's convention).
/// </summary>
internal sealed record ClassificationMetrics(
    long Total,
    long Correct,
    double Accuracy,
    IReadOnlyList<ClassMetrics> PerClass,
    double MacroPrecision,
    double MacroRecall,
    double MacroF1)
{
    public static ClassificationMetrics From(ConfusionMatrix matrix)
    {
        var perClass = new List<ClassMetrics>();
        for (var c = 0; c < matrix.Classes.Count; c++)
        {
            var support = matrix.Actual(c);
            var predicted = matrix.Predicted(c);
            var hits = matrix[c, c];
            var precision = predicted == 0 ? 0 : (double)hits / predicted;
            var recall = support == 0 ? 0 : (double)hits / support;
            var f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            perClass.Add(new ClassMetrics(matrix.Classes[c], support, predicted, precision, recall, f1));
        }

        var counted = perClass.Where(m => m.Support > 0 || m.Predicted > 0).ToList();
        double Mean(Func<ClassMetrics, double> pick) => counted.Count == 0 ? 0 : counted.Average(pick);
        var correct = matrix.Correct();
        return new ClassificationMetrics(
            matrix.Total,
            correct,
            matrix.Total == 0 ? 0 : (double)correct / matrix.Total,
            perClass,
            Mean(m => m.Precision),
            Mean(m => m.Recall),
            Mean(m => m.F1));
    }
}

/// <summary>
/// Clean-vs-defect figures for a screen: defect recall (defects sent on to the classifier) is what must not
/// drop; clean precision says how trustworthy a "clean" call is; spared is how many images skip the classifier.
/// </summary>
internal sealed record ScreenMetrics(
    float Threshold,
    long DefectsSentOn,
    long DefectsMissed,
    long CleanSentOn,
    long CleanPassed)
{
    public long Total => DefectsSentOn + DefectsMissed + CleanSentOn + CleanPassed;

    public double DefectRecall => Ratio(DefectsSentOn, DefectsSentOn + DefectsMissed);

    public double DefectPrecision => Ratio(DefectsSentOn, DefectsSentOn + CleanSentOn);

    public double CleanPrecision => Ratio(CleanPassed, CleanPassed + DefectsMissed);

    public double CleanRecall => Ratio(CleanPassed, CleanPassed + CleanSentOn);

    /// <summary>Images the screen called clean, so the classifier did not run.</summary>
    public long Spared => CleanPassed + DefectsMissed;

    public double SparedFraction => Ratio(Spared, Total);

    public static ScreenMetrics From(float threshold, IEnumerable<(bool IsDefect, bool SentOn)> decisions)
    {
        long tp = 0, fn = 0, fp = 0, tn = 0;
        foreach (var (isDefect, sentOn) in decisions)
        {
            if (isDefect)
            {
                if (sentOn)
                {
                    tp++;
                }
                else
                {
                    fn++;
                }
            }
            else if (sentOn)
            {
                fp++;
            }
            else
            {
                tn++;
            }
        }

        return new ScreenMetrics(threshold, tp, fn, fp, tn);
    }

    private static double Ratio(long a, long b) => b == 0 ? 0 : (double)a / b;
}

/// <summary>Per-image latency percentiles (nearest rank) in milliseconds.</summary>
internal sealed record LatencySummary(int Count, double P50, double P99, double Mean, double Max)
{
    public static LatencySummary From(IReadOnlyCollection<double> milliseconds)
    {
        if (milliseconds.Count == 0)
        {
            return new LatencySummary(0, 0, 0, 0, 0);
        }

        var sorted = milliseconds.Order().ToArray();
        return new LatencySummary(sorted.Length, Percentile(sorted, 50), Percentile(sorted, 99), sorted.Average(), sorted[^1]);
    }

    internal static double Percentile(double[] sorted, double p)
    {
        var rank = (int)Math.Ceiling(p / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}
