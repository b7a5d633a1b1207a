using SemEdge.Toolchain.Evaluation;
using SkiaSharp;

namespace SemEdge.Tests.Toolchain.Evaluation;

public class EvaluationMetricsTests
{
    [Fact]
    public void Metrics_of_a_hand_made_confusion_case()
    {
        var matrix = new ConfusionMatrix(["a", "b", "c"]);
        AddMany(matrix, 0, 0, 5);
        AddMany(matrix, 0, 1, 1);
        AddMany(matrix, 1, 1, 3);
        AddMany(matrix, 1, 2, 1);
        AddMany(matrix, 2, 0, 2);

        var m = ClassificationMetrics.From(matrix);

        Assert.Equal(12, m.Total);
        Assert.Equal(8, m.Correct);
        Assert.Equal(8.0 / 12, m.Accuracy, 12);
        var a = m.PerClass[0];
        Assert.Equal(6, a.Support);
        Assert.Equal(5.0 / 7, a.Precision, 12);
        Assert.Equal(5.0 / 6, a.Recall, 12);
        Assert.Equal(2 * (5.0 / 7) * (5.0 / 6) / ((5.0 / 7) + (5.0 / 6)), a.F1, 12);
        Assert.Equal(0.75, m.PerClass[1].Precision, 12);
        Assert.Equal(0.75, m.PerClass[1].Recall, 12);
        // c: predicted once (wrongly), never right.
        Assert.Equal(0, m.PerClass[2].Precision);
        Assert.Equal(0, m.PerClass[2].Recall);
        Assert.Equal(0, m.PerClass[2].F1);
        Assert.Equal(((5.0 / 7) + 0.75 + 0) / 3, m.MacroPrecision, 12);
        Assert.Equal(((5.0 / 6) + 0.75 + 0) / 3, m.MacroRecall, 12);
        Assert.Equal((a.F1 + 0.75 + 0) / 3, m.MacroF1, 12);
    }

    [Fact]
    public void A_class_absent_from_data_and_predictions_does_not_dilute_the_macro_mean()
    {
        var matrix = new ConfusionMatrix(["a", "b", "unused"]);
        AddMany(matrix, 0, 0, 4);
        AddMany(matrix, 1, 1, 4);
        var m = ClassificationMetrics.From(matrix);
        Assert.Equal(1.0, m.MacroF1);
        Assert.Equal(0, m.PerClass[2].Support);
    }

    [Fact]
    public void Screen_figures_count_defects_sent_on_and_clean_passed()
    {
        var decisions = new List<(bool, bool)>();
        decisions.AddRange(Enumerable.Repeat((true, true), 97));
        decisions.AddRange(Enumerable.Repeat((true, false), 3));
        decisions.AddRange(Enumerable.Repeat((false, false), 8));
        decisions.AddRange(Enumerable.Repeat((false, true), 2));

        var s = ScreenMetrics.From(0.3f, decisions);

        Assert.Equal(0.97, s.DefectRecall, 12);
        Assert.Equal(97.0 / 99, s.DefectPrecision, 12);
        Assert.Equal(8.0 / 11, s.CleanPrecision, 12);
        Assert.Equal(0.8, s.CleanRecall, 12);
        Assert.Equal(11, s.Spared);
        Assert.Equal(0.1, s.SparedFraction, 12);
    }

    [Fact]
    public void Latency_percentiles_use_the_nearest_rank()
    {
        var latency = LatencySummary.From(Enumerable.Range(1, 100).Select(i => (double)(101 - i)).ToList());
        Assert.Equal(50, latency.P50);
        Assert.Equal(99, latency.P99);
        Assert.Equal(100, latency.Max);
        Assert.Equal(50.5, latency.Mean, 12);
        Assert.Equal(7, LatencySummary.From([7.0]).P99);
    }

    [Fact]
    public void Confusion_chart_shades_cells_by_row_share_and_draws_text()
    {
        var matrix = new ConfusionMatrix(["clean", "defect"]);
        AddMany(matrix, 0, 0, 9);
        AddMany(matrix, 0, 1, 1);
        AddMany(matrix, 1, 1, 10);

        using var bitmap = SKBitmap.Decode(ConfusionMatrixChart.RenderPng(matrix, "test 20 images"));

        Assert.NotNull(bitmap);
        // Find the grid by its darkest cell (defect/defect, 100 %) and a white one (defect/clean, 0 %).
        var dark = 0;
        var ink = 0;
        for (var y = 0; y < bitmap.Height; y++)
        {
            for (var x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                dark += c == new SKColor(0x1F, 0x4E, 0x9A) ? 1 : 0;
                ink += c == SKColors.Black ? 1 : 0;
            }
        }

        Assert.True(dark > 64 * 40, $"full-share cell not shaded ({dark} px)");
        Assert.True(ink > 500, $"labels not drawn ({ink} black px)");
    }

    private static void AddMany(ConfusionMatrix matrix, int actual, int predicted, int count)
    {
        for (var i = 0; i < count; i++)
        {
            matrix.Add(actual, predicted);
        }
    }
}
