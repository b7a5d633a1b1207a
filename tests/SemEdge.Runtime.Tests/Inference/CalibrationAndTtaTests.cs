using System.Text.Json.Nodes;
using SemEdge.Imaging;
using SemEdge.Inference;

namespace SemEdge.Tests.Inference;

/// <summary>The manifest's softmax temperature and d4 test-time augmentation, on the fixture grid classifier.</summary>
public class CalibrationAndTtaTests
{
    private static string WithManifest(TempFolder dir, Action<JsonObject> change)
    {
        var manifest = Fixtures.CopyModel(Fixtures.Classifier, dir.Path);
        var json = JsonNode.Parse(File.ReadAllText(manifest))!.AsObject();
        change(json);
        File.WriteAllText(manifest, json.ToJsonString());
        return manifest;
    }

    private static float[] Softmax(float[] logits)
    {
        var max = logits.Max();
        var e = logits.Select(l => MathF.Exp(l - max)).ToArray();
        var sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    [Fact]
    public void Temperature_divides_the_logits_before_the_softmax()
    {
        using var dir = new TempFolder();
        var manifest = WithManifest(dir, j => j["temperature"] = 4.0);
        using var session = ModelSession.Load(manifest);
        new Preprocessor(session.Manifest.Preprocessing).Run(Fixtures.Decode(Fixtures.GridPng(0, 3)), session.Input);

        Assert.Equal(3, session.Run());

        // Cell 3 white (x = 2), the rest black (x = -2): logits 8 * x, so 16 and -16; with T = 4: 4 and -4.
        var expected = Softmax(session.Logits.ToArray().Select(l => l / 4f).ToArray());
        Assert.Equal(16f, session.Logits[3], 1e-4f);
        for (var c = 0; c < 10; c++) Assert.Equal(expected[c], session.Probabilities[c], 1e-6f);
        Assert.InRange(session.Probabilities[3], 0.996f, 0.998f); // 1 / (1 + 9 e^-8) = 0.9970, where T = 1 gives 1 - 1e-13
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    public void A_temperature_that_is_not_positive_is_refused(double temperature)
    {
        using var dir = new TempFolder();
        var manifest = WithManifest(dir, j => j["temperature"] = temperature);

        var ex = Assert.Throws<ModelLoadException>(() => ModelSession.Load(manifest));

        Assert.Contains("temperature", ex.Message);
    }

    [Fact]
    public void An_unknown_tta_is_refused_naming_the_known_ones()
    {
        using var dir = new TempFolder();
        var manifest = WithManifest(dir, j => j["tta"] = "d8");

        var ex = Assert.Throws<ModelLoadException>(() => ModelSession.Load(manifest));

        Assert.Contains("'none' or 'd4'", ex.Message);
    }

    [Fact]
    public void D4_averages_the_logits_over_the_eight_flips_and_quarter_turns()
    {
        using var dir = new TempFolder();
        var manifest = WithManifest(dir, j => j["tta"] = "d4");
        using var tta = ModelSession.Load(manifest);
        using var plain = ModelSession.Load(Fixtures.Classifier);
        var pre = new Preprocessor(tta.Manifest.Preprocessing);
        pre.Run(Fixtures.Decode(Fixtures.GridPng(0, 1)), tta.Input);
        var original = tta.Input.ToArray();

        var classId = tta.Run();

        // By hand: cell 1 (row 0, column 1) visits the orbit {1, 2, 4, 7, 8, 11, 13, 14} once per symmetry, so each
        // of those cells is white in one view of eight: logit 8 * (2 * 1/8 - 2 * 7/8) = -12; the other cells -16.
        for (var c = 0; c < 10; c++)
        {
            var expected = c is 1 or 2 or 4 or 7 or 8 ? -12f : -16f;
            Assert.Equal(expected, tta.Logits[c], 1e-3f);
        }

        Assert.Equal(1, classId);
        Assert.Equal(original, tta.Input.ToArray()); // the caller's input is left as it was

        // The same as running the plain model on each view and averaging.
        var sum = new float[10];
        var view = new float[original.Length];
        for (var t = 0; t < 8; t++)
        {
            ModelSession.ApplyD4(original, view, 128, t);
            view.CopyTo(plain.Input);
            plain.Run();
            for (var c = 0; c < 10; c++) sum[c] += plain.Logits[c] / 8f;
        }

        for (var c = 0; c < 10; c++) Assert.Equal(sum[c], tta.Logits[c], 1e-4f);
    }

    [Fact]
    public void The_eight_d4_transforms_are_distinct_and_each_a_permutation()
    {
        var source = Enumerable.Range(0, 9).Select(i => (float)i).ToArray();
        var seen = new HashSet<string>();
        for (var t = 0; t < 8; t++)
        {
            var target = new float[9];
            ModelSession.ApplyD4(source, target, 3, t);
            Assert.Equal(source.OrderBy(v => v), target.OrderBy(v => v));
            Assert.Equal(4f, target[4]); // the centre stays
            seen.Add(string.Join(",", target));
        }

        Assert.Equal(8, seen.Count);
    }
}
