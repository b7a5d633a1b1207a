using SemEdge.Decision;
using SemEdge.Imaging;
using SemEdge.Inference;

namespace SemEdge.Tests.Inference;

public class InspectorTests
{
    [Fact]
    public void Inspecting_a_file_gives_class_action_provider_and_timings_and_a_verdict()
    {
        using var dir = new TempFolder();
        var path = Path.Combine(dir.Path, "wafer-17.png");
        File.WriteAllBytes(path, Fixtures.GridPng(background: 0, brightCell: 3));
        using var inspector = Inspector.Create(
            new InferenceOptions { ClassifierManifest = Fixtures.Classifier, Threads = 1 }, new DecisionOptions());

        var inspection = inspector.InspectFile(path, CancellationToken.None);

        Assert.Equal(("wafer-17.png", 3, "crack", VerdictAction.Reject, "cpu"),
            (inspection.Image, inspection.ClassId, inspection.Label, inspection.Action, inspection.Provider));
        Assert.Equal((ImageFormat.Png, 512, 512), (inspection.Format, inspection.Width, inspection.Height));
        Assert.True(inspection.DecodeMs > 0 && inspection.PreprocessMs > 0 && inspection.InferenceMs > 0);
        var verdict = inspection.ToVerdict(DateTimeOffset.UnixEpoch);
        Assert.Equal(("crack", "fixture-classifier", VerdictAction.Reject), (verdict.Label, verdict.ModelId, verdict.Action));
        Assert.Equal(12, verdict.ModelSha.Length);
        Assert.Equal(inspection.LatencyMs, verdict.LatencyMs);
    }

    [Fact]
    public void Uncertain_answer_goes_to_review()
    {
        using var inspector = Inspector.Create(
            new InferenceOptions { ClassifierManifest = Fixtures.Classifier, Threads = 1 }, new DecisionOptions());

        // A uniform image: ten equal logits, confidence 0.1, below the default 0.5.
        var inspection = inspector.Inspect(Fixtures.GridPng(background: 90, brightCell: -1), "flat.png");

        Assert.Equal(0.1f, inspection.Confidence, 1e-5f);
        Assert.Equal(VerdictAction.Review, inspection.Action);
    }

    [Fact]
    public void Corrupt_file_is_rejected_with_a_reason()
    {
        using var dir = new TempFolder();
        var path = Path.Combine(dir.Path, "half.png");
        var png = Fixtures.GridPng(0, 1);
        File.WriteAllBytes(path, png[..(png.Length / 3)]);
        using var inspector = Inspector.Create(
            new InferenceOptions { ClassifierManifest = Fixtures.Classifier, Threads = 1 }, new DecisionOptions());

        var ex = Assert.Throws<ImageRejectedException>(() => inspector.InspectFile(path));

        Assert.Equal(ImageRejectReason.Truncated, ex.Reason);
    }

    [Fact]
    public void Invalid_options_are_refused_with_the_setting_named()
    {
        var ex = Assert.Throws<ArgumentException>(() => Inspector.Create(
            new InferenceOptions { ClassifierManifest = Fixtures.Classifier, Threads = 0, Accelerator = "gpu" },
            new DecisionOptions()));

        Assert.Contains("Inference:Threads", ex.Message);
        Assert.Contains("Inference:Accelerator 'gpu'", ex.Message);
    }

    [Fact]
    public void Pixel_limit_from_the_options_refuses_large_images()
    {
        using var inspector = Inspector.Create(
            new InferenceOptions { ClassifierManifest = Fixtures.Classifier, Threads = 1, MaxPixels = 512 * 511 },
            new DecisionOptions());

        var ex = Assert.Throws<ImageRejectedException>(() => inspector.Inspect(Fixtures.GridPng(0, 1), "big.png"));

        Assert.Equal(ImageRejectReason.TooLarge, ex.Reason);
        Assert.Contains("Inference:MaxPixels", ex.Message);
    }
}
