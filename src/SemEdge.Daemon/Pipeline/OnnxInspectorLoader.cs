using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SemEdge.Decision;
using SemEdge.Inference;
using SemEdge.Inference.Accelerators;
using SemEdge.Signing;

namespace SemEdge.Pipeline;

/// <summary>
/// Builds the ONNX <see cref="Inspector"/> for a model selection with the configured accelerator and decision
/// policy, and verifies it before anyone uses it: each manifest's Ed25519 signature by a trusted key
/// (<see cref="ModelTrust"/>), the model's classes against the class table (by the decision policy), the sha256 of
/// the ONNX file (checked by the loader), then a test inference on a fixed tensor that must give a proper
/// probability distribution from every model. Each inspection's model input goes to the
/// <see cref="IModelInputObserver"/>s (the page's live thumbnails).
/// </summary>
public sealed class OnnxInspectorLoader(
    IOptions<InferenceOptions> inference,
    IOptions<DecisionOptions> decision,
    ILoggerFactory loggers,
    TimeProvider time,
    IEnumerable<IModelInputObserver> inputObservers) : IInspectorLoader
{
    private readonly IModelInputObserver[] _inputObservers = [.. inputObservers];

    private readonly ILogger _logger = loggers.CreateLogger<OnnxInspectorLoader>();

    public IInspector Load(ModelSelection selection, LoadOccasion occasion)
    {
        var options = inference.Value.WithModels(selection.ClassifierManifest, selection.ScreenManifest);
        var classifier = Check(selection.ClassifierManifest, occasion);
        var screen = selection.ScreenManifest is { } screenPath ? Check(screenPath, occasion) : null;

        Inspector inspector;
        try
        {
            inspector = Inspector.Create(options, decision.Value, loggers, time);
        }
        catch (Exception ex) when (ex is AcceleratorUnavailableException or ArgumentException or IOException)
        {
            throw new ModelLoadException($"{selection.ClassifierManifest}: {ex.Message}", ex);
        }

        // Per-class settings were checked against the class table (a typo fails); one that names a table class this
        // model lacks is legal but does nothing, which the technician should hear about.
        var classes = inspector.Cascade.Classifier.Manifest.Classes;
        foreach (var unused in decision.Value.Actions.Keys.Concat(decision.Value.MinConfidence.Keys).Distinct(StringComparer.Ordinal).Where(c => !classes.Contains(c)))
        {
            _logger.LogWarning("Decision settings for class {Class} apply to nothing: {Manifest} cannot produce it", unused, selection.ClassifierManifest);
        }

        try
        {
            ModelTrust.ConfirmLoaded(classifier, inspector.Cascade.Classifier.Manifest);
            if (screen is not null)
            {
                ModelTrust.ConfirmLoaded(screen, inspector.Cascade.Screen!.Manifest);
            }

            TestInference(inspector.Cascade.Classifier);
            if (inspector.Cascade.Screen is { } screenSession)
            {
                TestInference(screenSession);
            }
        }
        catch
        {
            inspector.Dispose();
            throw;
        }

        return new OnnxInspector(inspector, classifier.SignedBy, time, _inputObservers);
    }

    private TrustedManifest Check(string manifest, LoadOccasion occasion)
    {
        var settings = inference.Value;
        IReadOnlyList<PublicSigningKey> trusted;
        try
        {
            trusted = settings.ParseTrustedKeys();
        }
        catch (FormatException ex)
        {
            throw new ModelLoadException($"{manifest}: Inference:TrustedKeys: {ex.Message}", ex);
        }

        // The development switch relaxes start-up only: a hot swap is what an attacker with write access to the
        // models folder would use, so it always needs a valid signature.
        var result = ModelTrust.Check(manifest, trusted, allowUnsigned: occasion == LoadOccasion.Start && settings.AllowUnsignedModelsAtStart);
        if (result.Refusal is { } refusal)
        {
            _logger.LogWarning(
                "Starting with an untrusted model because Inference:AllowUnsignedModelsAtStart is true (development only; a hot swap still needs a valid signature): {Reason}",
                refusal);
        }

        return result;
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

    private sealed class OnnxInspector(Inspector inspector, PublicSigningKey? signedBy, TimeProvider time, IModelInputObserver[] inputObservers) : IInspector
    {
        public ModelAnnouncement Announcement { get; } = new(
            inspector.Cascade.Classifier.Manifest.Id,
            inspector.Cascade.Classifier.Manifest.Version,
            inspector.Cascade.Classifier.ShortSha,
            inspector.Provider,
            inspector.Cascade.Classifier.Manifest.Classes,
            inspector.Cascade.Screen?.Manifest.Id)
        {
            ClassTable = inspector.Policy.Table.Entries,
            Missing = [.. inspector.Policy.Missing.Select(m => m.Label)],
            SignedBy = signedBy is null ? null : $"{signedBy.Name} {signedBy.Id}",
        };

        // A preparer per decode worker (created on first use, at most one per worker) and the prepared images
        // between a worker and the inference stage, both reused so a steady stream allocates no new buffers.
        private readonly ConcurrentBag<ImagePreparer> _preparers = [];
        private readonly ConcurrentBag<PreparedImage> _images = [];

        public PreparedImage Prepare(string path, CancellationToken cancellationToken)
        {
            var preparer = _preparers.TryTake(out var idle) ? idle : inspector.CreatePreparer();
            var image = _images.TryTake(out var free) ? free : new PreparedImage();
            try
            {
                preparer.PrepareFile(path, image, cancellationToken);
                return image;
            }
            catch
            {
                _images.Add(image);
                throw;
            }
            finally
            {
                _preparers.Add(preparer);
            }
        }

        public Verdict Infer(PreparedImage image, string imageName)
        {
            try
            {
                var inspection = inspector.Infer(image, imageName);
                var verdict = inspection.ToVerdict(time.GetUtcNow());
                if (inputObservers.Length > 0)
                {
                    // The input of the model that answered: the screen's when it passed the image alone, else the classifier's.
                    var decided = (inspection.ScreenShortCircuited ? inspector.Cascade.Screen! : inspector.Cascade.Classifier).Manifest.Preprocessing;
                    foreach (var observer in inputObservers)
                    {
                        observer.OnModelInput(verdict, image.Input(decided), decided, image.Width, image.Height);
                    }
                }

                return verdict;
            }
            finally
            {
                _images.Add(image);
            }
        }

        public void Dispose() => inspector.Dispose();
    }
}
