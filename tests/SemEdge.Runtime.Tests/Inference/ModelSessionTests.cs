using System.Text.Json.Nodes;
using SemEdge.Imaging;
using SemEdge.Inference;

namespace SemEdge.Tests.Inference;

public class ModelSessionTests
{
    [Fact]
    public void Classifier_answers_the_brightest_grid_cell_with_the_exact_softmax()
    {
        using var session = ModelSession.Load(Fixtures.Classifier);
        var pre = new Preprocessor(session.Manifest.Preprocessing);
        pre.Run(Fixtures.Decode(Fixtures.GridPng(background: 0, brightCell: 3)), session.Input);

        var classId = session.Run();

        Assert.Equal(3, classId);

        // Cells: 3 is white (x = 2), the others black (x = -2); logits = 8 * cell for the first ten cells.
        var expected = new float[10];
        for (var c = 0; c < 10; c++) expected[c] = MathF.Exp(8 * ((c == 3 ? 2f : -2f) - 2f));
        var sum = expected.Sum();
        for (var c = 0; c < 10; c++) Assert.Equal(expected[c] / sum, session.Probabilities[c], 1e-5f);
        Assert.Equal("cpu", session.Provider);
    }

    [Fact]
    public void Model_whose_sha256_does_not_match_the_manifest_is_refused_naming_both_hashes()
    {
        using var dir = new TempFolder();
        var manifest = Fixtures.CopyModel(Fixtures.Classifier, dir.Path);
        var onnx = Path.Combine(dir.Path, "classifier.onnx");
        var bytes = File.ReadAllBytes(onnx);
        bytes[^1] ^= 0x01;
        File.WriteAllBytes(onnx, bytes);
        var expected = JsonNode.Parse(File.ReadAllText(manifest))!["sha256"]!.GetValue<string>();
        var actual = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));

        var ex = Assert.Throws<ModelLoadException>(() => ModelSession.Load(manifest));

        Assert.Contains(expected, ex.Message);
        Assert.Contains(actual, ex.Message);
    }

    [Fact]
    public void Missing_model_file_is_a_clear_load_error()
    {
        using var dir = new TempFolder();
        var manifest = Fixtures.CopyModel(Fixtures.Classifier, dir.Path);
        File.Delete(Path.Combine(dir.Path, "classifier.onnx"));

        var ex = Assert.Throws<ModelLoadException>(() => ModelSession.Load(manifest));

        Assert.Contains("classifier.onnx", ex.Message);
    }

    [Fact]
    public void Manifest_naming_a_wrong_input_is_refused()
    {
        using var dir = new TempFolder();
        var manifest = Fixtures.CopyModel(Fixtures.Classifier, dir.Path);
        var json = JsonNode.Parse(File.ReadAllText(manifest))!;
        json["input"]!["name"] = "pixels";
        File.WriteAllText(manifest, json.ToJsonString());

        var ex = Assert.Throws<ModelLoadException>(() => ModelSession.Load(manifest));

        Assert.Contains("no input 'pixels'", ex.Message);
    }

    [Fact]
    public void Steady_state_run_allocates_nothing_on_the_managed_heap()
    {
        using var session = ModelSession.Load(Fixtures.Classifier);
        for (var i = 0; i < 10; i++) session.Run();

        const int Runs = 200;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Runs; i++) session.Run();
        var perRun = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)Runs;

        Assert.True(perRun < 64, $"{perRun:F1} bytes allocated per Run");
    }

    [Fact]
    public void Softmax_is_stable_for_large_logits()
    {
        var p = new float[3];

        var best = LogitMath.Softmax([1000f, 1001f, 999f], p, 1f);

        Assert.Equal(1, best);
        Assert.Equal(1f, p.Sum(), 1e-6f);
        Assert.True(p[1] > p[0] && p[0] > p[2]);
    }
}
