using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SemEdge.Decision;
using SemEdge.Imaging;
using SemEdge.Inference.Accelerators;

namespace SemEdge.Inference;

/// <summary>
/// The one entry point from an image file to a decision, used by the daemon, <c>classify</c>, <c>evaluate</c> and
/// <c>bench</c>: read → decode → preprocess (<see cref="ImagePreparer"/>) → cascade → decision policy, with
/// per-stage timings. The daemon splits it: its decode workers prepare with preparers of their own
/// (<see cref="CreatePreparer"/>) and one inference stage calls <see cref="Infer"/>. The file buffer, decoded pixels
/// and tensors are reused between images. Not thread-safe.
/// </summary>
public sealed class Inspector : IDisposable
{
    private readonly ImagePreparer _preparer;
    private readonly PreparedImage _prepared = new();
    private readonly long _maxPixels;
    private readonly TimeProvider _time;

    public Inspector(Cascade cascade, DecisionPolicy policy, long maxPixels = ImageDecoder.DefaultMaxPixels,
        TimeProvider? time = null)
    {
        Cascade = cascade ?? throw new ArgumentNullException(nameof(cascade));
        Policy = policy ?? throw new ArgumentNullException(nameof(policy));
        _maxPixels = maxPixels;
        _time = time ?? TimeProvider.System;
        _preparer = CreatePreparer();
    }

    public Cascade Cascade { get; }

    public DecisionPolicy Policy { get; }

    /// <summary>Provider of the classifier (and of the screen, which uses the same accelerator).</summary>
    public string Provider => Cascade.Classifier.Provider;

    /// <summary>
    /// Loads the models named in <paramref name="inference"/> (the shipped ones when unset), sets up the accelerator
    /// and the decision policy. Without DI: the CLI calls this directly.
    /// </summary>
    /// <exception cref="ModelLoadException">A model cannot be loaded or verified.</exception>
    /// <exception cref="AcceleratorUnavailableException">The accelerator is required and unavailable.</exception>
    public static Inspector Create(InferenceOptions inference, DecisionOptions decision, ILoggerFactory? loggers = null,
        TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(inference);
        ArgumentNullException.ThrowIfNull(decision);
        loggers ??= NullLoggerFactory.Instance;
        var validation = new InferenceOptionsValidator().Validate(null, inference);
        if (validation.Failed)
        {
            throw new ArgumentException(validation.FailureMessage, nameof(inference));
        }

        var accelerator = new Accelerator(inference.ToAcceleratorSettings(), loggers.CreateLogger<Accelerator>());
        var logger = loggers.CreateLogger<ModelSession>();
        var classifierPath = inference.ClassifierManifest ?? ShippedModels.Resolve(ShippedModels.ClassifierFile);
        var classifier = ModelSession.Load(classifierPath, inference.Threads, accelerator, logger);
        ModelSession? screen = null;
        try
        {
            if (inference.ScreenManifest is { } screenPath)
            {
                screen = ModelSession.Load(screenPath, inference.Threads, accelerator, logger);
            }

            var cascade = new Cascade(classifier, screen, time);
            return new Inspector(cascade, new DecisionPolicy(decision, classifier.Manifest.Classes), inference.MaxPixels, time);
        }
        catch
        {
            classifier.Dispose();
            screen?.Dispose();
            throw;
        }
    }

    /// <summary>Inspects an image file.</summary>
    /// <exception cref="ImageRejectedException">The file is not an image SemEdge can inspect.</exception>
    public Inspection InspectFile(string path, CancellationToken cancellationToken = default)
    {
        _preparer.PrepareFile(path, _prepared, cancellationToken);
        return Infer(_prepared, Path.GetFileName(path), cancellationToken);
    }

    /// <summary>Inspects an image held in memory.</summary>
    /// <exception cref="ImageRejectedException">The bytes are not an image SemEdge can inspect.</exception>
    public Inspection Inspect(ReadOnlyMemory<byte> data, string imageName, CancellationToken cancellationToken = default)
    {
        _preparer.Prepare(data, _prepared, cancellationToken);
        return Infer(_prepared, imageName, cancellationToken);
    }

    /// <summary>A preparer for this inspector's model inputs, for a worker of its own (with this inspector's pixel limit).</summary>
    public ImagePreparer CreatePreparer() => new(Cascade.Inputs, _maxPixels, _time);

    /// <summary>Runs the models and the decision policy on an image prepared for <see cref="Cascade.Inputs"/>.</summary>
    /// <exception cref="InvalidOperationException"><paramref name="image"/> was prepared for other model inputs.</exception>
    public Inspection Infer(PreparedImage image, string imageName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        cancellationToken.ThrowIfCancellationRequested();
        var result = Cascade.Run(image);
        var decided = result.DecidedBy;
        var classes = Cascade.Classifier.Manifest.Classes;
        return new Inspection
        {
            Image = imageName,
            ClassId = Policy.NumberOf(result.ClassId),
            ModelClassIndex = result.ClassId,
            Label = classes[result.ClassId],
            Confidence = result.Confidence,
            Action = Policy.Decide(result.ClassId, result.Confidence),
            Provider = decided.Provider,
            ModelId = decided.Manifest.Id,
            ModelSha = decided.ShortSha,
            Format = image.Format,
            Width = image.Width,
            Height = image.Height,
            ReadMs = image.ReadMs,
            DecodeMs = image.DecodeMs,
            // The preparer's preprocessing plus the cascade's copy of the tensors into the model inputs.
            PreprocessMs = image.PreprocessMs + result.PreprocessMs,
            InferenceMs = result.InferenceMs,
            ScreenRan = result.ScreenRan,
            ScreenShortCircuited = result.ShortCircuited,
            DefectProbability = result.DefectProbability,
        };
    }

    public void Dispose() => Cascade.Dispose();
}
