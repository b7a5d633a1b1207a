using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SemEdge.Decision;
using SemEdge.Inference;
using SemEdge.Inference.Accelerators;
using SemEdge.Publishing;

namespace SemEdge.Hosting;

/// <summary>
/// Builds the ONNX <see cref="Inspector"/> for a model selection with the configured accelerator and decision
/// policy, and verifies it before anyone uses it: the manifest's sha256 (checked by the loader), then a test
/// inference on a fixed tensor that must give a proper probability distribution from every model.
/// </summary>
public sealed class OnnxInspectorLoader(
    IOptions<InferenceOptions> inference,
    IOptions<DecisionOptions> decision,
    ILoggerFactory loggers,
    TimeProvider time) : IInspectorLoader
{
    public IInspector Load(ModelSelection selection)
    {
        var options = inference.Value.WithModels(selection.ClassifierManifest, selection.ScreenManifest);

        Inspector inspector;
        try
        {
            inspector = Inspector.Create(options, decision.Value, loggers, time);
        }
        catch (Exception ex) when (ex is AcceleratorUnavailableException or ArgumentException or IOException)
        {
            throw new ModelLoadException($"{selection.ClassifierManifest}: {ex.Message}", ex);
        }

        try
        {
            TestInference(inspector.Cascade.Classifier);
            if (inspector.Cascade.Screen is { } screen)
            {
                TestInference(screen);
            }
        }
        catch
        {
            inspector.Dispose();
            throw;
        }

        return new OnnxInspector(inspector, time);
    }

    /// <summary>
    /// A mid-grey image (every input at the normalised value of 0.5): a model that answers it with NaN, infinities
    /// or probabilities that do not sum to one is broken whatever its checksum says.
    /// </summary>
    private static void TestInference(ModelSession model)
    {
        var pre = model.Manifest.Preprocessing;
        model.Input.Fill((0.5f - pre.Mean) / pre.Std);
        model.Run();
        var sum = 0.0;
        foreach (var p in model.Probabilities)
        {
            if (!float.IsFinite(p) || p < 0)
            {
                throw new ModelLoadException($"{model.ManifestPath}: test inference gave {p}; the model is broken");
            }

            sum += p;
        }

        if (Math.Abs(sum - 1) > 1e-3)
        {
            throw new ModelLoadException($"{model.ManifestPath}: test inference probabilities sum to {sum:0.####}, not 1");
        }
    }

    private sealed class OnnxInspector(Inspector inspector, TimeProvider time) : IInspector
    {
        public ModelAnnouncement Announcement { get; } = new(
            inspector.Cascade.Classifier.Manifest.Id,
            inspector.Cascade.Classifier.Manifest.Version,
            inspector.Cascade.Classifier.ShortSha,
            inspector.Provider,
            inspector.Cascade.Classifier.Manifest.Classes,
            inspector.Cascade.Screen?.Manifest.Id);

        public double LastDecodeMs { get; private set; } = double.NaN;

        public Verdict Inspect(string path, string imageName)
        {
            var inspection = inspector.InspectFile(path);
            LastDecodeMs = inspection.ReadMs + inspection.DecodeMs;
            return inspection.ToVerdict(time.GetUtcNow()) with { Image = imageName };
        }

        public void Dispose() => inspector.Dispose();
    }
}
