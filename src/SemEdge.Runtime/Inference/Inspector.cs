using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SemEdge.Decision;
using SemEdge.Imaging;
using SemEdge.Inference.Accelerators;

namespace SemEdge.Inference;

/// <summary>
/// The one entry point from an image file to a decision, used by the daemon, <c>classify</c>, <c>evaluate</c> and
/// <c>bench</c>: read → decode → preprocess → cascade → decision policy, with per-stage timings. The file buffer,
/// decoded pixels and tensors are reused between images. Not thread-safe: one per pipeline worker.
/// </summary>
public sealed class Inspector : IDisposable
{
    private readonly ImageDecoder _decoder;
    private readonly DecodedImage _image = new();
    private readonly TimeProvider _time;
    private readonly long _maxFileBytes;
    private byte[] _file = [];

    public Inspector(Cascade cascade, DecisionPolicy policy, long maxPixels = ImageDecoder.DefaultMaxPixels,
        TimeProvider? time = null)
    {
        Cascade = cascade ?? throw new ArgumentNullException(nameof(cascade));
        Policy = policy ?? throw new ArgumentNullException(nameof(policy));
        _decoder = new ImageDecoder(maxPixels);
        _time = time ?? TimeProvider.System;

        // The largest honest file is an uncompressed 16-bit RGBA TIFF at the pixel limit, plus headers.
        _maxFileBytes = Math.Min(Array.MaxLength, (maxPixels * 8) + (16 << 20));
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
        var t0 = _time.GetTimestamp();
        var length = ReadFile(path);
        var readMs = _time.GetElapsedTime(t0).TotalMilliseconds;
        return Inspect(_file.AsMemory(0, length), Path.GetFileName(path), readMs, cancellationToken);
    }

    /// <summary>Inspects an image held in memory.</summary>
    /// <exception cref="ImageRejectedException">The bytes are not an image SemEdge can inspect.</exception>
    public Inspection Inspect(ReadOnlyMemory<byte> data, string imageName, CancellationToken cancellationToken = default) =>
        Inspect(data, imageName, 0, cancellationToken);

    public void Dispose() => Cascade.Dispose();

    private Inspection Inspect(ReadOnlyMemory<byte> data, string imageName, double readMs, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var t0 = _time.GetTimestamp();
        var format = _decoder.Decode(data, _image);
        var decodeMs = _time.GetElapsedTime(t0).TotalMilliseconds;
        cancellationToken.ThrowIfCancellationRequested();

        var result = Cascade.Run(_image);
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
            Format = format,
            Width = _image.Width,
            Height = _image.Height,
            ReadMs = readMs,
            DecodeMs = decodeMs,
            PreprocessMs = result.PreprocessMs,
            InferenceMs = result.InferenceMs,
            ScreenRan = result.ScreenRan,
            ScreenShortCircuited = result.ShortCircuited,
            DefectProbability = result.DefectProbability,
        };
    }

    private int ReadFile(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var length = RandomAccess.GetLength(handle);
        if (length > _maxFileBytes)
        {
            throw new ImageRejectedException(ImageRejectReason.TooLarge,
                $"the file is {length} bytes, more than any image within the pixel limit can need ({_maxFileBytes})");
        }

        if (_file.Length < length)
        {
            _file = GC.AllocateUninitializedArray<byte>((int)length);
        }

        var total = 0;
        while (total < length)
        {
            var n = RandomAccess.Read(handle, _file.AsSpan(total, (int)length - total), total);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }
}
