using System.Text.Json;
using SemEdge.Toolchain.Evaluation;
using SemEdge.Toolchain;

namespace SemEdge.Tests.Toolchain.Evaluation;

public class PurityCurveTests
{
    // Ten decisions counted by hand: confidence, right or wrong.
    private static readonly (float, bool)[] Decisions =
    [
        (0.99f, true), (0.97f, true), (0.95f, true), (0.91f, false), (0.88f, true),
        (0.75f, true), (0.62f, false), (0.55f, true), (0.41f, false), (0.30f, false),
    ];

    [Fact]
    public void Purity_and_accept_rate_match_a_hand_count()
    {
        var curve = PurityCurve.From(Decisions);

        var at = curve.Points.ToDictionary(p => p.Threshold);
        // Floor 0: everything decided alone, 6 of 10 right.
        Assert.Equal((10L, 1.0, 0.6), (at[0].Accepted, at[0].AcceptRate, at[0].Purity));
        // Floor 0.5: the 8 images from 0.55 up, 6 right.
        Assert.Equal((8L, 0.8, 0.75), (at[0.5].Accepted, at[0.5].AcceptRate, at[0.5].Purity));
        // Floor 0.9: 0.99, 0.97, 0.95 right, 0.91 wrong.
        Assert.Equal((4L, 0.4, 0.75), (at[0.9].Accepted, at[0.9].AcceptRate, at[0.9].Purity));
        // Floor 0.95: three images, all right.
        Assert.Equal((3L, 0.3, 1.0), (at[0.95].Accepted, at[0.95].AcceptRate, at[0.95].Purity));
        // Floor 0.99: only the top one.
        Assert.Equal((1L, 0.1, 1.0), (at[0.99].Accepted, at[0.99].AcceptRate, at[0.99].Purity));
    }

    [Fact]
    public void The_95_percent_floor_is_the_lowest_that_keeps_the_target()
    {
        var curve = PurityCurve.From(Decisions);

        // From the top: 1/1, 2/2, 3/3 (>= 95 %), then 3/4 = 75 %, 4/5 = 80 %, 5/6 = 83 %: only the first three qualify.
        var target = Assert.IsType<PurityPoint>(curve.AtTargetPurity);
        Assert.Equal(0.95, target.Threshold, 6);
        Assert.Equal(3, target.Accepted);
        Assert.Equal(0.3, target.AcceptRate, 9);
        Assert.Equal(1.0, target.Purity);

        // At 80 % purity the floor can go down to 0.75: 5 right of 6.
        var eighty = PurityCurve.From(Decisions, 0.8).AtTargetPurity!;
        Assert.Equal(0.75, eighty.Threshold, 6);
        Assert.Equal(6, eighty.Accepted);
    }

    [Fact]
    public void Tied_confidences_are_accepted_or_refused_together_and_an_unreachable_target_is_null()
    {
        // Two images at 0.9, one right and one wrong: a floor of 0.9 takes both (50 %), never just the right one.
        var curve = PurityCurve.From([(0.9f, true), (0.9f, false), (0.5f, true)]);
        Assert.Null(curve.AtTargetPurity);
        Assert.Equal(0.5, curve.Points.Single(p => p.Threshold == 0.9).Purity);
    }

    [Fact]
    public void Expected_calibration_error_is_the_weighted_gap_between_confidence_and_accuracy()
    {
        // Bin 0.9-1.0: confidences 0.99, 0.97, 0.95, 0.91 (mean 0.955), 3 of 4 right: gap 0.205, weight 0.4.
        // Bin 0.8-0.9: 0.88 right: gap 0.12, weight 0.1. Bin 0.7-0.8: 0.75 right: gap 0.25, weight 0.1.
        // Bin 0.6-0.7: 0.62 wrong: 0.62. Bin 0.5-0.6: 0.55 right: 0.45. Bin 0.4-0.5: 0.41 wrong: 0.41. Bin 0.3-0.4: 0.30 wrong: 0.30.
        var expected = (0.4 * 0.205) + (0.1 * (0.12 + 0.25 + 0.62 + 0.45 + 0.41 + 0.30));
        Assert.Equal(expected, PurityCurve.From(Decisions).ExpectedCalibrationError, 5);
    }

    [Fact]
    public void Evaluate_writes_the_curve_and_prints_the_95_percent_floor()
    {
        using var temp = new TempFolder();
        var stdout = new StringWriter();
        var model = Path.Combine(ToolchainFixtures.Dir, "mnv3.json");

        var code = EvaluateJob.Run(new EvaluateRequest(model, ToolchainFixtures.Images, null, temp.Path, 1), stdout, TextWriter.Null, CancellationToken.None);

        Assert.Equal(JobOutcome.Succeeded, code);
        using var report = JsonDocument.Parse(File.ReadAllText(temp.Combine(EvaluateJob.ReportFile)));
        var classifier = report.RootElement.GetProperty("classifier");
        var purity = classifier.GetProperty("purity");
        var points = purity.GetProperty("points");
        Assert.Equal(PurityCurve.ReportedThresholds.Length, points.GetArrayLength());
        // Floor 0 accepts every image, and its purity is the accuracy.
        Assert.Equal(classifier.GetProperty("total").GetInt64(), points[0].GetProperty("accepted").GetInt64());
        Assert.Equal(classifier.GetProperty("accuracy").GetDouble(), points[0].GetProperty("purity").GetDouble(), 9);
        Assert.Equal(1.0, classifier.GetProperty("temperature").GetDouble());
        Assert.Equal("none", classifier.GetProperty("tta").GetString());
        Assert.Contains("95.0% purity", stdout.ToString());
    }
}
