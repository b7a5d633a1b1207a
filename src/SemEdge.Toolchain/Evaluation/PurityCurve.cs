namespace SemEdge.Toolchain.Evaluation;

/// <summary>One operating point: the model decides alone on images whose confidence is at least <see cref="Threshold"/>.</summary>
/// <param name="Threshold">Confidence floor (the decision policy's MinConfidence).</param>
/// <param name="Accepted">Images at or above the floor: decided by the model, not sent to review.</param>
/// <param name="AcceptRate">Accepted / all images.</param>
/// <param name="Purity">Accuracy on the accepted images (1 when none are accepted).</param>
internal sealed record PurityPoint(double Threshold, long Accepted, double AcceptRate, double Purity);

/// <summary>
/// Purity against accept rate, the way automatic defect classification is judged in fabs: below a confidence
/// floor an image goes to a human reviewer, above it the model's class stands. Raising the floor buys purity
/// (accuracy on what the model decides alone) at the cost of the accept rate (the share it decides alone).
/// </summary>
internal sealed record PurityCurve
{
    /// <summary>The floors the report lists: 0 (accept everything) to 0.99.</summary>
    public static readonly double[] ReportedThresholds = [0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99];

    public const double DefaultTargetPurity = 0.95;

    public required IReadOnlyList<PurityPoint> Points { get; init; }

    public required double TargetPurity { get; init; }

    /// <summary>
    /// The lowest floor, among the observed confidences, at which purity reaches <see cref="TargetPurity"/>: the
    /// largest accept rate that keeps the target. Null when no floor reaches it.
    /// </summary>
    public PurityPoint? AtTargetPurity { get; init; }

    /// <summary>
    /// Expected calibration error over 10 equal-width confidence bins: the gap between the mean confidence and the
    /// accuracy in each bin, weighted by its share of images. 0 means a confidence of p is right p of the time.
    /// </summary>
    public required double ExpectedCalibrationError { get; init; }

    public static PurityCurve From(IReadOnlyList<(float Confidence, bool Correct)> decisions, double targetPurity = DefaultTargetPurity)
    {
        ArgumentNullException.ThrowIfNull(decisions);
        var total = decisions.Count;
        var points = ReportedThresholds.Select(t => Point(decisions, t)).ToList();

        // Walk the images from the most confident down; every distinct confidence is a candidate floor.
        var ordered = decisions.OrderByDescending(d => d.Confidence).ToArray();
        PurityPoint? best = null;
        long correct = 0;
        for (var i = 0; i < ordered.Length; i++)
        {
            if (ordered[i].Correct) correct++;
            var lastOfTie = i == ordered.Length - 1 || ordered[i + 1].Confidence < ordered[i].Confidence;
            if (!lastOfTie)
            {
                continue;
            }

            var accepted = i + 1;
            var purity = (double)correct / accepted;
            if (purity >= targetPurity)
            {
                best = new PurityPoint(ordered[i].Confidence, accepted, (double)accepted / total, purity);
            }
        }

        return new PurityCurve
        {
            Points = points,
            TargetPurity = targetPurity,
            AtTargetPurity = best,
            ExpectedCalibrationError = Ece(decisions),
        };
    }

    private static PurityPoint Point(IReadOnlyList<(float Confidence, bool Correct)> decisions, double threshold)
    {
        long accepted = 0, correct = 0;
        // Compared in float, as the decision policy compares a confidence with its floor: 0.95f is at floor 0.95.
        var floor = (float)threshold;
        foreach (var (confidence, ok) in decisions)
        {
            if (confidence >= floor)
            {
                accepted++;
                if (ok) correct++;
            }
        }

        return new PurityPoint(threshold, accepted, decisions.Count == 0 ? 0 : (double)accepted / decisions.Count,
            accepted == 0 ? 1 : (double)correct / accepted);
    }

    private static double Ece(IReadOnlyList<(float Confidence, bool Correct)> decisions)
    {
        if (decisions.Count == 0)
        {
            return 0;
        }

        const int Bins = 10;
        var count = new long[Bins];
        var confidence = new double[Bins];
        var correct = new double[Bins];
        foreach (var (c, ok) in decisions)
        {
            var bin = Math.Clamp((int)(c * Bins), 0, Bins - 1);
            count[bin]++;
            confidence[bin] += c;
            correct[bin] += ok ? 1 : 0;
        }

        double ece = 0;
        for (var b = 0; b < Bins; b++)
        {
            if (count[b] > 0)
            {
                ece += Math.Abs((confidence[b] - correct[b]) / count[b]) * count[b] / decisions.Count;
            }
        }

        return ece;
    }
}
